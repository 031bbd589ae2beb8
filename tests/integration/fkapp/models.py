"""A Django app whose models relate through ForeignKey and carry an expression index
and a partial index (tests/integration/test_foreign_keys.py)."""
from django.db import models
from django.db.models.functions import Lower


class Author(models.Model):
    name = models.CharField(max_length=40)

    class Meta:
        app_label = "fkapp"


class Book(models.Model):
    title = models.CharField(max_length=40)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")

    class Meta:
        app_label = "fkapp"
        indexes = [  # an expression index and a partial one (migration 0002)
            models.Index(Lower("title"), name="fkapp_book_lower_title"),
            models.Index(fields=["author"], condition=models.Q(title__startswith="S"),
                         name="fkapp_book_s_author"),
        ]

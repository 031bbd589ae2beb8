"""A Django app whose models relate through ForeignKey and carry a partial
index (tests/integration/test_foreign_keys.py)."""
from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=40)

    class Meta:
        app_label = "fkapp"


class Book(models.Model):
    title = models.CharField(max_length=40)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")

    class Meta:
        app_label = "fkapp"
        indexes = [  # a partial index (migration 0002)
            models.Index(fields=["author"], condition=models.Q(title__startswith="S"),
                         name="fkapp_book_s_author"),
        ]

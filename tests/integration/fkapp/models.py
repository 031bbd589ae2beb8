"""A Django app whose models relate through ForeignKey (tests/integration/test_foreign_keys.py)."""
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

# Written as Django 5.2's makemigrations writes AddIndex (aurora-dsql-django turns each
# into CREATE INDEX ASYNC; the second is partial, the first on an expression)

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('fkapp', '0001_initial'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='book',
            index=models.Index(django.db.models.functions.text.Lower('title'),
                               name='fkapp_book_lower_title'),
        ),
        migrations.AddIndex(
            model_name='book',
            index=models.Index(condition=models.Q(('title__startswith', 'S')),
                               fields=['author'], name='fkapp_book_s_author'),
        ),
    ]

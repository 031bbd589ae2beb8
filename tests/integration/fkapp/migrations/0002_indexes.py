# Written as Django 5.2's makemigrations writes AddIndex; aurora-dsql-django turns it into
# CREATE INDEX ASYNC ... WHERE. (Its 0.7.0 declares supports_expression_indexes = False,
# so Django would skip an expression index: those are tested through other clients.)

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('fkapp', '0001_initial'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='book',
            index=models.Index(condition=models.Q(('title__startswith', 'S')),
                               fields=['author'], name='fkapp_book_s_author'),
        ),
    ]

from django.apps import AppConfig


class FkAppConfig(AppConfig):
    name = "tests.integration.fkapp"
    label = "fkapp"
    default_auto_field = "django.db.models.BigAutoField"

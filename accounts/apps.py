from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    # allauth's e-mail addresses are also "Accounts" in the admin: two sections of one name confused the desk.
    verbose_name = "Traders and exchange keys"

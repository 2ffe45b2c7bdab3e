from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """The project's own user model from the first migration, so it can grow without a painful swap later."""

    email = models.EmailField("email address", unique=True)

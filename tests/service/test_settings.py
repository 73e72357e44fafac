from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from walkout.service.settings import DEVELOPMENT_SECRET_KEY, Settings


def test_settings_defaults_to_sqlite_in_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)

    assert settings.resolved_database_url.startswith("sqlite+pysqlite:///")
    assert settings.resolved_database_url.endswith(str(tmp_path / "walkout.db"))
    assert settings.entry_pass_seconds == 60
    assert settings.entry_hold_amount == Decimal("50.00")


def test_settings_read_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WALKOUT_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1/db")
    monkeypatch.setenv("WALKOUT_ENTRY_HOLD_AMOUNT", "25.50")

    settings = Settings()

    assert settings.resolved_database_url == "postgresql+psycopg://u@127.0.0.1/db"
    assert settings.entry_hold_amount == Decimal("25.50")


@pytest.mark.parametrize("environment", ["test", "staging", "production"])
def test_settings_reject_development_key(environment: str) -> None:
    with pytest.raises(ValidationError, match="development default"):
        Settings(environment=environment, secret_key=DEVELOPMENT_SECRET_KEY)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"secret_key": "short"}, "at least 32"),
        ({"payment_provider": "stripe"}, "WALKOUT_STRIPE_SECRET_KEY is missing"),
        (
            {"payment_provider": "stripe", "stripe_secret_key": "sk_test_1"},
            "WALKOUT_STRIPE_WEBHOOK_SECRET is missing",
        ),
        ({"first_admin_email": "a@example.com"}, "set together"),
        ({"entry_hold_amount": "-1"}, "greater than or equal"),
        ({"entry_hold_amount": "1.005"}, "decimal places"),
        ({"entry_pass_seconds": 0}, "greater than 0"),
        ({"environment": "prod"}, "environment"),
    ],
)
def test_settings_reject_invalid_values(
    values: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings.model_validate(values)


def test_settings_accept_production_with_random_key() -> None:
    settings = Settings(environment="production", secret_key="k" * 48)

    assert settings.environment == "production"

"""Settings of the store service, read once from ``WALKOUT_*`` environment variables.

``Settings()`` validates everything at start-up and raises
``pydantic.ValidationError`` naming the bad variable, so a misconfigured
service stops before it serves a request.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The secret key a development checkout runs with. Anyone can read it here, so
# any environment other than "development" rejects it.
DEVELOPMENT_SECRET_KEY = "walkout-development-secret-key-do-not-deploy"

# HS256 keys shorter than the 256-bit hash output weaken the signature.
MIN_SECRET_KEY_LENGTH = 32

Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]


class Settings(BaseSettings):
    """Configuration of one service process; every field has a ``WALKOUT_`` variable."""

    model_config = SettingsConfigDict(
        env_prefix="WALKOUT_", env_file=None, extra="ignore", frozen=True
    )

    environment: Literal["development", "test", "staging", "production"] = "development"
    data_dir: Path = Path("data")
    # Empty means a SQLite file ``walkout.db`` inside ``data_dir``.
    database_url: str = ""

    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET_KEY)
    access_token_minutes: int = Field(default=60, gt=0, le=24 * 60)
    entry_pass_seconds: int = Field(default=60, gt=0, le=15 * 60)
    max_party_size: int = Field(default=6, ge=1, le=50)

    payment_provider: Literal["ledger", "stripe"] = "ledger"
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    # Empty: Stripe's own API. Set it to reach a Stripe-compatible test server
    # such as stripe-mock, for example http://127.0.0.1:12111.
    stripe_api_base: str = Field(default="", pattern=r"^(https?://\S+)?$")
    # Authorised on the shopper's card at the gate; a visit can be charged at
    # most this much, because a capture cannot exceed its hold.
    entry_hold_amount: Money = Decimal("50.00")
    # Disputed receipts up to this amount would be refunded without review.
    dispute_auto_refund_limit: Money = Decimal("5.00")

    first_admin_email: str | None = None
    first_admin_password: SecretStr | None = None

    # Empty: the in-process bus; nats://host:port (tls:// for TLS): NATS
    # JetStream.
    bus_url: str = Field(default="", pattern=r"^((nats|tls)://\S+)?$")
    # Sensor-clock seconds the decided events must pass a visit's exit before
    # it settles.
    settle_margin_s: float = Field(default=2.0, ge=0, le=600)
    # How often a stream of visit events polls the database, in seconds.
    visit_events_poll_s: float = Field(default=0.5, gt=0, le=60)
    # Max seconds by which a sensor reading may be dated ahead of the store's
    # sensor clock. A reading further ahead is rejected.
    max_reading_lead_s: float = Field(default=60.0, gt=0, le=86400)
    # Seconds after which an entry still waiting for its hold's result counts
    # as interrupted, so its hold is released and its visit deleted. An entry
    # whose hold call takes longer is cancelled too, and the shopper needs a
    # new pass. The Stripe SDK (16.1) times out each attempt after 80 s, and
    # StripeProvider retries twice by default, so one hold call can outlast
    # the default.
    admission_timeout_s: float = Field(default=120.0, ge=1, le=12 * 3600)
    # How often the service looks for interrupted entries, in seconds. It
    # also looks once at start-up.
    admission_recovery_interval_s: float = Field(default=30.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _reject_unsafe(self) -> Self:
        key = self.secret_key.get_secret_value()
        if self.environment != "development" and key == DEVELOPMENT_SECRET_KEY:
            raise ValueError(
                f"WALKOUT_SECRET_KEY is the development default, which is invalid "
                f"when WALKOUT_ENVIRONMENT={self.environment}; set a random key, "
                f"for example from `python -c 'import secrets; "
                f"print(secrets.token_urlsafe(48))'`"
            )
        if len(key) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(
                f"WALKOUT_SECRET_KEY has {len(key)} characters; it needs at least "
                f"{MIN_SECRET_KEY_LENGTH}"
            )
        if self.payment_provider == "stripe":
            for name, value in (
                ("WALKOUT_STRIPE_SECRET_KEY", self.stripe_secret_key),
                ("WALKOUT_STRIPE_WEBHOOK_SECRET", self.stripe_webhook_secret),
            ):
                if value is None or not value.get_secret_value():
                    raise ValueError(
                        f"{name} is missing; it is required when "
                        "WALKOUT_PAYMENT_PROVIDER=stripe"
                    )
        if (self.first_admin_email is None) != (self.first_admin_password is None):
            raise ValueError(
                "WALKOUT_FIRST_ADMIN_EMAIL and WALKOUT_FIRST_ADMIN_PASSWORD must be "
                "set together or not at all"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        """Return ``database_url``, or the SQLite file in ``data_dir`` when unset."""
        if self.database_url:
            return self.database_url
        return f"sqlite+pysqlite:///{(self.data_dir / 'walkout.db').resolve()}"

"""Settings, a store document and request helpers of the service tests."""

from __future__ import annotations

from payment_doubles import DECLINED_TOKEN as DECLINED_TOKEN
from payment_doubles import FakeClock as FakeClock
from payment_doubles import FakeProvider as FakeProvider
from service_requests import ADMIN_EMAIL as ADMIN_EMAIL
from service_requests import ADMIN_PASSWORD as ADMIN_PASSWORD
from service_requests import PASSWORD as PASSWORD
from service_requests import SECRET as SECRET
from service_requests import account_id as account_id
from service_requests import bearer as bearer
from service_requests import log_in as log_in
from service_requests import make_settings as make_settings
from service_requests import sign_up as sign_up

STORE_DOCUMENT = {
    "format": "walkout-recording/1",
    "store": {"id": "corner", "name": "Corner Store", "currency": "USD"},
    "products": [
        {
            "sku": "water",
            "name": "Water 0.5 l",
            "price": "1.50",
            "unit_weight_g": 530.0,
        },
        {"sku": "chips", "name": "Chips", "price": "2.25", "unit_weight_g": 120.0},
    ],
    "plates": [
        {
            "id": "1.1.1",
            "gondola": 1,
            "shelf": 1,
            "plate": 1,
            "center": [0.5, 0.5, 1.0],
            "size": [0.1, 0.4],
        },
        {
            "id": "1.1.2",
            "gondola": 1,
            "shelf": 1,
            "plate": 2,
            "center": [0.6, 0.5, 1.0],
            "size": [0.1, 0.4],
        },
    ],
    "planogram": [
        {"sku": "water", "plates": ["1.1.1"], "qty": 6},
        {"sku": "chips", "plates": ["1.1.2"], "qty": 4},
    ],
}

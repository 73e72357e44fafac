"""Every threshold of fusion, in one frozen dataclass.

Each field's docstring states what raising or lowering it trades. Weights are
in grams, distances in metres and times in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FusionParams:
    """Thresholds and priors of product scoring, shopper association and review."""

    default_units_per_plate: int = 10
    """Units assumed on each plate of a facing whose planogram entry has no ``qty``.

    Raising it lets more takes pass the availability check when the true stock
    is unknown, at the cost of accepting takes of a product that has run out.
    """

    default_unit_sd_rel: float = 0.02
    """Spread of one unit's weight, relative to its mean, for products without
    ``unit_weight_sd_g``.

    The AIM3S catalogue measures a median of 1.1% and a maximum of 14.7%.
    Raising it tolerates heavier outliers but blurs look-alike products.
    """

    calibration_rel_sd: float = 0.05
    """Relative load-cell calibration error, as a standard deviation.

    In the NanoStore recording cps-test-01, a 538 g bottle reads -558.5 g on
    its own plate (3.8% high) and -575.9 g summed with its neighbours (7.0%
    high). Raising it accepts worse-calibrated plates but lets products of
    nearby weights and multi-unit takes compete more.
    """

    max_units_per_event: int = 4
    """Maximum number of units of one product considered for a single take or put.

    Raising it finds bigger grabs, at the cost of more chances to explain a
    heavy unknown change as many light units.
    """

    extra_unit_prior: float = 0.5
    """Prior odds of each unit beyond the first in one event (qty ``n`` gets
    ``extra_unit_prior ** (n - 1)``).

    Lowering it favours single-unit readings when weights are ambiguous.
    """

    spread_floor: float = 0.05
    """Minimum spread factor of a take hypothesis whose product lies on none of
    the changed plates.

    The spread factor is the share of the absolute change on plates holding
    the product. Raising the floor lets weight override placement more often.
    """

    put_spread_floor: float = 0.3
    """Minimum spread factor of a put hypothesis.

    It is higher than ``spread_floor`` because a shopper may put an item back
    on the wrong plate. Lowering it trusts the planogram more for put-backs.
    """

    max_weight_z: float = 4.0
    """Maximum weight z-score (in standard deviations) at which the best
    hypothesis still explains an event.

    Raising it charges more odd changes without review. Lowering it sends
    more events to review as ``sensor_fault``.
    """

    min_product_fraction: float = 0.5
    """Minimum share of the lightest candidate's unit weight that an unexplained
    change must reach to be kept as a ``sensor_fault`` line.

    Smaller unexplained changes are dropped as noise. Raising it drops more
    faults silently, and lowering it sends more shelf knocks to review.
    """

    product_margin: float = 0.2
    """Minimum gap between the two best product probabilities for a confident line.

    Raising it sends more look-alike decisions to review as
    ``ambiguous_product``.
    """

    vision_window_s: float = 1.0
    """Time around an event in which vision observations of the shopper count.

    Raising it uses more observations but risks mixing items of earlier or
    later picks.
    """

    vision_floor: float = 0.05
    """Minimum vision factor of a product, so that one misrecognition cannot veto it.

    Raising it lowers the weight of vision against the load cells.
    """

    wrist_window_margin_s: float = 1.0
    """Time added before and after an event's window when reading wrist samples.

    Raising it catches reaches that the load cells register late, at the
    cost of counting shoppers who merely passed by.
    """

    reach_sd_m: float = 0.12
    """Standard deviation of the wrist-to-plate distance of the shopper who
    touched the plate.

    Raising it makes association more tolerant of tracker noise but less
    able to tell apart two shoppers at the same shelf.
    """

    max_reach_m: float = 0.5
    """Maximum best wrist-to-plate distance at which a track is accepted
    without review.

    Beyond it the nearest track still gets the event, marked
    ``ambiguous_shopper``.
    """

    min_joint_score: float = 0.3
    """Minimum tracker score of a wrist sample used for association.

    Raising it discards unreliable joints, at the cost of fewer samples.
    """

    shopper_margin: float = 0.2
    """Minimum gap between the two best shopper probabilities for a confident line.

    Raising it sends more crowded-shelf decisions to review as
    ``ambiguous_shopper``.
    """

    relink_max_gap_s: float = 10.0
    """Maximum time between a lost track's last sample and a new track's first
    one for the two to be joined.

    Raising it re-links longer occlusions but risks joining different people.
    """

    relink_speed_m_s: float = 1.5
    """Walking speed that converts a re-link's time gap into metres.

    The re-link cost is the distance between the lost track's last head
    position and the new track's first one, plus this speed times the gap.
    Raising it prefers recent losses over near ones.
    """

    relink_max_distance_m: float = 3.0
    """Maximum distance between a lost track's last position and a new track's
    first one for the two to be joined.

    Raising it re-links more tracks but risks joining different people.
    """

    def __post_init__(self) -> None:
        if self.max_units_per_event < 1:
            raise ValueError(
                "max_units_per_event must be at least 1, "
                f"got {self.max_units_per_event}"
            )
        if self.default_units_per_plate < 0:
            raise ValueError(
                "default_units_per_plate must not be negative, "
                f"got {self.default_units_per_plate}"
            )
        for name in ("reach_sd_m", "calibration_rel_sd", "default_unit_sd_rel"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


DEFAULT_PARAMS = FusionParams()
"""The defaults, shared because ``FusionParams`` is frozen."""

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

    partial_merge_gap_s: float = 5.0
    """Maximum time between two same-sign changes of one plate, each too
    small for a product, that merge into one change for review (seconds).

    Drift and spike bursts can split a take's step in two. Raising it merges
    unrelated drift more often, and every merged line goes to review.
    """

    silent_wrist_lead_s: float = 0.25
    """Time before a plate's last reading during which a wrist within
    ``max_reach_m`` still counts as at the plate when it stopped reporting
    (seconds).

    It covers a few missed pose samples. A visit with such a wrist goes to
    review as ``sensor_fault`` when the plate does not report again before
    the visit is settled. Raising it also flags hands that left just before
    the plate stopped, whose takes the plate usually measured.
    """

    dwell_sd_m: float = 0.03
    """Spread of the along-shelf offset between the median wrist position of
    the causing hand's reach and the centre of the plate it changed.

    The median of a 1-3 s reach at 15 Hz averages the tracker's 5 cm joint
    noise down to about 1 cm, and the simulator's hand lands within 3 cm of
    the facing's middle; a real hand may grab anywhere on a 10 cm plate
    (sd 2.9 cm). A hand on the neighbouring plate is 10 cm off, and a lean
    two plates away 20 cm. Raising it trusts single samples more than where
    the hand stayed.
    """

    carrying_min_share: float = 0.1
    """Minimum share of an event's absolute change that a plate must carry to
    count in shopper association.

    Neighbour coupling moves a plate by about 1.5 % of the change next door,
    and a lean moves its neighbours too, while the smallest real share of an
    item on one plate of NanoStore cps-test-01 is 17 %. Raising it measures
    wrists only against the main plates, and lowering it lets a hand resting
    next to a coupled plate compete for the change.
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

    onset_lead_s: float = 0.6
    """How long before an event's start the causing hand may already be at the
    plate without penalty.

    In the simulator the wrist arrives 0.2 to 0.6 s before the load steps.
    Raising it tolerates slow grabs, at the cost of crediting a hand that
    arrived earlier for someone else's change.
    """

    onset_lag_s: float = 0.4
    """How long after an event's start the causing hand may arrive without
    penalty.

    It covers the detector placing the start early. Raising it lets a hand
    that arrives during someone else's change compete for it.
    """

    onset_sd_s: float = 0.3
    """Spread of the soft timing penalty for wrist samples outside the onset
    window.

    Raising it leans on samples farther from the onset when the tracker
    misses the reach itself, but weakens the timing evidence that separates two
    shoppers at one plate.
    """

    reach_near_m: float = 0.25
    """Wrist-to-plate distance within which a wrist counts as reaching into
    the plate.

    Reaches bound the reuse check and unit splits. Raising it merges passes
    along the shelf into reaches, and lowering it splits one reach in two
    when tracking is noisy.
    """

    reach_gap_s: float = 0.5
    """Longest run of missing wrist samples bridged inside one reach.

    Raising it survives longer occlusions, at the cost of joining two reaches
    of one hand into one.
    """

    reach_lookaround_s: float = 6.0
    """Time searched on each side of a wrist's best sample to find where its
    reach starts and ends. Longer reaches are cut at this bound, which only
    matters for the reuse check."""

    approach_max_s: float = 1.2
    """Longest time from a wrist's arrival at the plate to the event's start
    that carries no penalty.

    A grabbing hand arrives shortly before the load moves, while a hand that
    has rested on the shelf for seconds (a lean, a hovering hand) is a weak
    candidate. Raising it trusts resting hands more.
    """

    approach_sd_s: float = 0.5
    """Spread of the soft penalty for arrivals earlier than ``approach_max_s``.

    Lowering it penalises resting hands harder, at the cost of missing a
    shopper who waits with the hand on the item before lifting it.
    """

    reused_reach_factor: float = 0.05
    """Likelihood factor of a reach that already caused an earlier event.

    One reach moves one load, so a hand still resting on the plate after
    its own take is a weak candidate for the next change there. Lowering it
    trusts this more, and raising it towards 1 turns the rule off.
    """

    split_min_p: float = 0.8
    """Minimum per-plate shopper probability for splitting a multi-plate event
    between shoppers.

    When neighbouring plates change together and each plate's own evidence
    points to a different account with at least this probability, the event
    is decided as one event per account. Lowering it splits more merged
    events, at the cost of cutting one item resting on two plates in two.
    """

    coupling_rel: float = 0.015
    """Share of a plate's change that a neighbouring plate shows without
    carrying the item, with the same sign.

    On NanoStore cps-test-01 a 558 g step moved each neighbour by about 8 g
    (1.4 %); the simulator draws 1-2 % per neighbour. It is the mean of the
    coupling in the comparison of one product against per-plate grabs.
    """

    coupling_rel_sd: float = 0.01
    """Spread of the neighbour coupling share around ``coupling_rel``.

    Raising it lets one product explain larger changes on plates that do not
    hold it, so fewer multi-plate events split into per-plate grabs.
    """

    split_min_log_odds: float = 2.0
    """Minimum log Bayes factor of per-plate grabs against one product for a
    multi-plate take to be decided as one event per group of plates.

    It is the log prior odds against two grabs at neighbouring plates in
    one event. Raising it keeps more events whole, and lowering it splits
    more of them.
    """

    split_max_plates: int = 8
    """Largest number of plates in one event for which per-plate groupings
    are compared. There are ``2 ** (n - 1)`` groupings of ``n`` plates, so
    larger events stay whole."""

    unit_split_max_distance_m: float = 0.15
    """Maximum wrist-to-plate distance of a hand that counts as grabbing from
    a plate when an event is split between shoppers.

    A multi-unit change with two fresh reaches at its onset is most likely
    two one-unit grabs that the load cells could not separate, so a second
    shopper's reach this close gets one unit. A plate of a multi-plate event
    names its own shopper only when that shopper's wrist came this close.
    Raising it splits more changes, and lowering it charges more grabs to
    one shopper.
    """

    unit_split_min_p: float = 0.2
    """Minimum association probability of that second shopper's track.

    Two hands grabbing at one plate share the probability about evenly. A
    hand passing the plate on its way to another one scores near zero and
    must not be charged a unit. Raising it keeps more multi-unit takes with
    one shopper, and lowering it lets passing hands take units.
    """

    grab_min_dwell_s: float = 0.4
    """Minimum reach duration, from arrival to leaving, of a second shopper's
    hand that gets one unit of a multi-unit change (seconds).

    Lifting an item takes the hand to it, closes the grip and lifts, so the
    wrist stays at the plate for most of a second (an estimate). The
    simulator's grabbing hands stay 1 to 3 s. A hand passing the plate on
    its way elsewhere stays within ``reach_near_m`` for one or two samples
    at 15 Hz. Raising it charges more two-shopper changes to one shopper,
    and lowering it lets passing hands take units. Zero turns the check off.
    """

    solver_candidates: int = 3
    """Accounts per doubtful event that the per-visit solver considers.

    Raising it explores more joint assignments, at exponential cost in the
    number of doubtful events of one group.
    """

    solver_max_events: int = 10
    """Maximum number of doubtful events solved jointly. Larger groups keep
    their online decisions.

    Raising it finds consistent assignments in busier stores at
    ``solver_candidates ** solver_max_events`` cost.
    """

    infeasible_put_factor: float = 0.01
    """Likelihood factor of an assignment in which an account puts back more
    units of a sku than it holds at that time.

    Lowering it trusts put-backs more as evidence of who took an item.
    Raising it towards 1 lets the solver ignore put-backs.
    """

    relink_max_gap_s: float = 10.0
    """Maximum time between a lost track's last sample and a new track's first
    one for the two to be joined.

    Raising it re-links longer occlusions but risks joining different people.
    """

    relink_speed_m_s: float = 1.5
    """Maximum walking speed of a person the tracker lost, in m/s.

    A lost person can reappear anywhere within this speed times the time
    gap, so farther reappearances are unlikely. Among reachable losses the
    most recent one is the most likely. The simulator walks people at
    0.8-1.2 m/s. Raising it lets older losses compete with recent ones.
    """

    relink_max_distance_m: float = 3.0
    """Maximum distance between a lost track's last position and a new track's
    first one for the two to be joined.

    Raising it re-links more tracks but risks joining different people.
    """

    relink_position_sd_m: float = 0.3
    """Position error of a lost person's reappearance, in metres.

    It widens the disc that a person can reach while lost (see
    ``relink_speed_m_s``): the tracker's head noise is 5 cm, and the first
    and last samples of a lost track are often half-occluded (estimate).
    A re-linked track belongs to each candidate account in proportion to
    this likelihood, so close calls leave its lines in review as
    ``ambiguous_shopper``. Raising it trusts distances less and sends more
    re-linked lines to review.
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
        if self.grab_min_dwell_s < 0:
            raise ValueError(
                "grab_min_dwell_s must not be negative (0 turns the check off), "
                f"got {self.grab_min_dwell_s}"
            )
        if self.solver_candidates < 1 or self.solver_max_events < 1:
            raise ValueError(
                "solver_candidates and solver_max_events must be at least 1, "
                f"got {self.solver_candidates} and {self.solver_max_events}"
            )
        positive = (
            "reach_sd_m",
            "dwell_sd_m",
            "coupling_rel_sd",
            "calibration_rel_sd",
            "default_unit_sd_rel",
            "onset_sd_s",
            "approach_sd_s",
            "reused_reach_factor",
            "infeasible_put_factor",
            "relink_position_sd_m",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


DEFAULT_PARAMS = FusionParams()
"""The defaults, shared because ``FusionParams`` is frozen."""

-- table: sigma_mrr_waterfall
-- partition_column: day
-- description: MRR and subscriber waterfall per day in USD minor units (beginning, new, reactivation, expansion, contraction, churn, FX adjustment, ending), with the month as a column.
--
-- One row per UTC day of the window. Amounts are USD minor units (cents), converted from each
-- currency's minor units with decimalize_amount_no_display and exchange_rates_from_usd (units of the
-- currency one US dollar buys, per day).
--   beginning_mrr      the MRR of every event before the day, at the previous day's rates;
--   ending_mrr         the MRR of every event up to the day's end, at the day's rates; so a day's
--                      beginning is the previous day's ending, and a month's beginning (its first
--                      day's) the previous month's ending (its last day's);
--   new, reactivation, expansion, contraction, churn: the day's changes at the day's rates;
--   fx_adjustment_mrr  the rest: the change in USD value of the beginning MRR between the previous
--                      day's rates and the day's (plus the movements' sub-cent rounding).
-- Sign convention: every movement is a magnitude (>= 0 for the MRR kinds, except an expansion
-- or contraction event of zero change); fx_adjustment_mrr is signed, and
--   ending_mrr = beginning_mrr + new_mrr + reactivation_mrr + expansion_mrr
--                - contraction_mrr - churn_mrr + fx_adjustment_mrr
--   ending_subscribers = beginning_subscribers + new_subscribers + reactivated_subscribers
--                        - churned_subscribers
-- hold exactly. A subscriber is a customer with at least one active subscription item. The events
-- of one customer at one instant are taken together: when they take the customer from no active
-- item to some, its ACTIVE_START events are new MRR (the customer's first events) or reactivation
-- (a customer who had churned before); when they take it to none, its ACTIVE_END events are churn.
-- Every other event is expansion (mrr_change > 0) or contraction (mrr_change <= 0), including the
-- end and start of an item replaced by another (a plan swap shows as both).
-- local_month_start is the first day of the day's month (the partition's zone, UTC).
with days as (
    select day
    from unnest(
        sequence(cast(:window_start as date), date_add('day', -1, cast(:window_end as date)))
    ) as t (day)
),

events as (
    select
        customer_id,
        event_timestamp,
        event_type,
        currency,
        mrr_change,
        case event_type when 'ACTIVE_START' then 1 when 'ACTIVE_END' then -1 else 0 end as item_change
    from subscription_item_change_events
    where event_timestamp < :window_end
),

-- The customer's active items after the instant of each event (all the instant's events counted)
-- and the change in items at that instant.
states as (
    select
        *,
        sum(item_change) over (partition by customer_id order by event_timestamp) as items_after,
        sum(item_change) over (partition by customer_id, event_timestamp) as instant_change,
        min(event_timestamp) over (partition by customer_id) as first_event
    from events
),

-- Whether each event's instant makes the customer a subscriber or ends one (the same for all the
-- instant's events), and which movement the event is.
instants as (
    select
        *,
        items_after > 0 and items_after - instant_change <= 0 as starts_subscriber,
        items_after <= 0 and items_after - instant_change > 0 as ends_subscriber,
        row_number() over (partition by customer_id, event_timestamp order by event_type) as instant_row
    from states
),

classified as (
    select
        cast(event_timestamp as date) as day,
        currency,
        mrr_change,
        case
            when event_type = 'ACTIVE_START' and starts_subscriber
                then if(event_timestamp = first_event, 'new', 'reactivation')
            when event_type = 'ACTIVE_END' and ends_subscriber then 'churn'
            when mrr_change > 0 then 'expansion'
            else 'contraction'
        end as movement,
        -- Counted once per customer and instant.
        instant_row = 1 and starts_subscriber and event_timestamp = first_event as new_subscriber,
        instant_row = 1 and starts_subscriber and event_timestamp > first_event as reactivated_subscriber,
        instant_row = 1 and ends_subscriber as churned_subscriber
    from instants
),

-- Native minor units per day and currency, over the whole history up to the window's end.
daily as (
    select
        day,
        currency,
        sum(mrr_change) as total,
        sum(if(movement = 'new', mrr_change, 0)) as new_mrr,
        sum(if(movement = 'reactivation', mrr_change, 0)) as reactivation_mrr,
        sum(if(movement = 'expansion', mrr_change, 0)) as expansion_mrr,
        sum(if(movement = 'contraction', -mrr_change, 0)) as contraction_mrr,
        sum(if(movement = 'churn', -mrr_change, 0)) as churn_mrr
    from classified
    group by 1, 2
),

subscriber_days as (
    select
        day,
        count_if(new_subscriber) as new_subscribers,
        count_if(reactivated_subscriber) as reactivated_subscribers,
        count_if(churned_subscriber) as churned_subscribers
    from classified
    group by 1
),

currencies as (
    select distinct currency from daily
),

rates as (
    select
        date,
        currency,
        cast(json_extract_scalar(buy_currency_exchange_rates, '$.' || currency) as double) as rate
    from exchange_rates_from_usd
    cross join currencies
    where date >= date_add('day', -1, cast(:window_start as date))
      and date < cast(:window_end as date)
),

-- Per day of the window and currency: the MRR before the day and the day's movements.
native as (
    select
        d.day,
        c.currency,
        coalesce(sum(h.total) filter (where h.day < d.day), 0) as beginning,
        coalesce(sum(h.total) filter (where h.day = d.day), 0) as total,
        coalesce(sum(h.new_mrr) filter (where h.day = d.day), 0) as new_mrr,
        coalesce(sum(h.reactivation_mrr) filter (where h.day = d.day), 0) as reactivation_mrr,
        coalesce(sum(h.expansion_mrr) filter (where h.day = d.day), 0) as expansion_mrr,
        coalesce(sum(h.contraction_mrr) filter (where h.day = d.day), 0) as contraction_mrr,
        coalesce(sum(h.churn_mrr) filter (where h.day = d.day), 0) as churn_mrr
    from days as d
    cross join currencies as c
    left join daily as h on h.currency = c.currency and h.day <= d.day
    group by 1, 2
),

usd as (
    select
        n.day,
        cast(round(decimalize_amount_no_display(n.currency, n.beginning) / before.rate * 100) as bigint)
            as beginning_mrr,
        cast(round(decimalize_amount_no_display(n.currency, n.beginning + n.total) / now.rate * 100) as bigint)
            as ending_mrr,
        cast(round(decimalize_amount_no_display(n.currency, n.new_mrr) / now.rate * 100) as bigint) as new_mrr,
        cast(round(decimalize_amount_no_display(n.currency, n.reactivation_mrr) / now.rate * 100) as bigint)
            as reactivation_mrr,
        cast(round(decimalize_amount_no_display(n.currency, n.expansion_mrr) / now.rate * 100) as bigint)
            as expansion_mrr,
        cast(round(decimalize_amount_no_display(n.currency, n.contraction_mrr) / now.rate * 100) as bigint)
            as contraction_mrr,
        cast(round(decimalize_amount_no_display(n.currency, n.churn_mrr) / now.rate * 100) as bigint)
            as churn_mrr
    from native as n
    join rates as now on now.date = n.day and now.currency = n.currency
    join rates as before on before.date = date_add('day', -1, n.day) and before.currency = n.currency
),

totals as (
    select
        day,
        sum(beginning_mrr) as beginning_mrr,
        sum(new_mrr) as new_mrr,
        sum(reactivation_mrr) as reactivation_mrr,
        sum(expansion_mrr) as expansion_mrr,
        sum(contraction_mrr) as contraction_mrr,
        sum(churn_mrr) as churn_mrr,
        sum(ending_mrr) as ending_mrr
    from usd
    group by 1
),

subscribers as (
    select
        d.day,
        coalesce(sum(s.new_subscribers + s.reactivated_subscribers - s.churned_subscribers)
            filter (where s.day < d.day), 0) as beginning_subscribers,
        coalesce(sum(s.new_subscribers) filter (where s.day = d.day), 0) as new_subscribers,
        coalesce(sum(s.reactivated_subscribers) filter (where s.day = d.day), 0) as reactivated_subscribers,
        coalesce(sum(s.churned_subscribers) filter (where s.day = d.day), 0) as churned_subscribers
    from days as d
    left join subscriber_days as s on s.day <= d.day
    group by 1
)

select
    d.day,
    cast(date_trunc('month', d.day) as date) as local_month_start,
    coalesce(t.beginning_mrr, 0) as beginning_mrr,
    coalesce(t.new_mrr, 0) as new_mrr,
    coalesce(t.reactivation_mrr, 0) as reactivation_mrr,
    coalesce(t.expansion_mrr, 0) as expansion_mrr,
    coalesce(t.contraction_mrr, 0) as contraction_mrr,
    coalesce(t.churn_mrr, 0) as churn_mrr,
    coalesce(
        t.ending_mrr - t.beginning_mrr - t.new_mrr - t.reactivation_mrr - t.expansion_mrr
        + t.contraction_mrr + t.churn_mrr,
        0
    ) as fx_adjustment_mrr,
    coalesce(t.ending_mrr, 0) as ending_mrr,
    s.beginning_subscribers,
    s.new_subscribers,
    s.reactivated_subscribers,
    s.churned_subscribers,
    s.beginning_subscribers + s.new_subscribers + s.reactivated_subscribers - s.churned_subscribers
        as ending_subscribers
from days as d
left join totals as t on t.day = d.day
join subscribers as s on s.day = d.day
order by 1

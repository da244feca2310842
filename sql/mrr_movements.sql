-- table: sigma_mrr_movements
-- partition_column: day
-- description: MRR movements per day, currency and kind of change (new, expansion, contraction, churn), from subscription item change events.
with events as (
    select
        date_trunc('day', event_timestamp) as day,
        currency,
        case
            when event_type = 'ACTIVE_START' then 'new'
            when event_type = 'ACTIVE_END' then 'churn'
            when mrr_change > 0 then 'expansion'
            when mrr_change < 0 then 'contraction'
            else 'other'
        end as movement,
        mrr_change,
        subscription_id
    from subscription_item_change_events
    where event_timestamp >= :window_start
      and event_timestamp < :window_end
)
select
    day,
    currency,
    movement,
    count(*) as events,
    count(distinct subscription_id) as subscriptions,
    sum(mrr_change) as mrr_change
from events
group by 1, 2, 3
order by 1, 2, 3

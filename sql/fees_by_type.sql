-- table: sigma_fees_by_type
-- partition_column: day
-- description: Stripe fees per day, balance transaction type and currency, with each type's share of the day's fees.
with fees as (
    select
        date_trunc('day', created) as day,
        type,
        currency,
        count(*) as transactions,
        sum(fee) as fee
    from balance_transactions
    where created >= :window_start
      and created < :window_end
      and fee <> 0
    group by 1, 2, 3
)
select
    day,
    type,
    currency,
    transactions,
    fee,
    round(100.0 * fee / sum(fee) over (partition by day, currency), 2) as share_of_fees_pct
from fees
order by 1, 2, 3

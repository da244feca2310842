-- table: sigma_daily_activity_by_category
-- saved_query: Daily activity by category
-- partition_column: day
-- description: Balance activity per day, reporting category and currency (amounts in minor units).
--
-- :window_start and :window_end are bound to the partition's window as TIMESTAMP literals.
select
    date_trunc('day', created) as day,
    reporting_category,
    currency,
    count(*) as transactions,
    sum(amount) as amount,
    sum(fee) as fee,
    sum(net) as net
from balance_transactions
where created >= :window_start
  and created < :window_end
group by 1, 2, 3
order by 1, 2, 3

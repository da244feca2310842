-- table: sigma_connected_account_daily_activity
-- connect: per_account
-- partition_column: day
-- description: One connected account's balance activity per day, reporting category and currency (amounts in minor units), queried as that account.
--
-- Sigma answers a query with one account's data (the Stripe-Account it runs as), so this entry has
-- one partition per connected account and day: an account's days are backfilled, re-landed and
-- closed on their own (--account).
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

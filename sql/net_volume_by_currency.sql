-- table: sigma_net_volume_by_currency
-- api: v2
-- partition_column: day
-- description: Net volume per day and currency (minor units), run on Stripe's /v2/data Queries API.
--
-- The same Sigma SQL as a v1 query: `api: v2` only changes the Stripe API that runs it (query runs
-- under /v2/data, freshness from the schemas listing's refreshed_at, results from a pre-signed link).
select
    date_trunc('day', created) as day,
    currency,
    count(*) as transactions,
    sum(amount) as gross,
    sum(fee) as fees,
    sum(net) as net
from balance_transactions
where created >= :window_start
  and created < :window_end
group by 1, 2
order by 1, 2

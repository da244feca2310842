-- table: sigma_balance_transaction_totals
-- partition_column: day
-- description: Balance activity per day and currency, payouts excluded (minor units): what the activity report itemizes, totalled by Sigma.
--
-- The `reconciles_with_sigma_balance_transactions` check compares these totals with
-- balance_change_from_activity.itemized.3, after converting minor units to major units.
select
    date_trunc('day', created) as day,
    currency,
    count(*) as transactions,
    sum(amount) as amount,
    sum(fee) as fee,
    sum(net) as net
from balance_transactions
where created >= :window_start
  and created < :window_end
  and reporting_category not in ('payout', 'payout_reversal')
group by 1, 2
order by 1, 2

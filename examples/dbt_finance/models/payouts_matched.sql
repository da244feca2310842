-- One row per payout with the transactions it settled: the amount paid out (the payout's net
-- turned positive: the payouts report books a payout as money leaving the balance), the count and
-- net of its reconciled transactions, and what is left unmatched (0 when every transaction of the
-- payout is landed).
with transactions as (
    select
        automatic_payout_id as payout_id,
        count(*) as transaction_count,
        sum(net) as transactions_net
    from {{ source('stripe', 'payout_reconciliation_itemized_5') }}
    group by 1
)

select
    p.payout_id,
    cast(p._partition as date) as day,
    p.effective_at_utc,
    p.payout_expected_arrival_date,
    p.payout_status,
    p.currency,
    -p.net as amount,
    coalesce(t.transaction_count, 0) as transaction_count,
    coalesce(t.transactions_net, 0) as transactions_net,
    -p.net - coalesce(t.transactions_net, 0) as unmatched_amount
from {{ source('stripe', 'payouts_itemized_3') }} as p
left join transactions as t
    on t.payout_id = p.payout_id

-- Every balance transaction settled in an automatic payout, beside the payout it was paid out in:
-- payout_reconciliation.itemized.5 joined to payouts.itemized.3 on the payout's id. A transaction
-- whose payout is not landed (yet) keeps null payout columns rather than disappearing.
select
    r.automatic_payout_id as payout_id,
    p.effective_at_utc as payout_effective_at_utc,
    p.payout_expected_arrival_date,
    p.payout_status,
    r.balance_transaction_id,
    r.created_utc,
    r.reporting_category,
    r.currency,
    r.gross,
    r.fee,
    r.net,
    r.source_id,
    r.customer_id,
    r.charge_id
from {{ source('stripe', 'payout_reconciliation_itemized_5') }} as r
left join {{ source('stripe', 'payouts_itemized_3') }} as p
    on p.payout_id = r.automatic_payout_id

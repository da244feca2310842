-- MRR by month from the daily waterfall (sql/mrr_waterfall.sql, USD minor units): the month's
-- beginning is its first landed day's beginning, its ending the last landed day's ending, and the
-- flows are the days' sums. days_landed says whether the month is complete in the warehouse.
with days as (
    select
        local_month_start as month,
        day,
        beginning_mrr,
        ending_mrr,
        beginning_subscribers,
        ending_subscribers,
        new_mrr,
        reactivation_mrr,
        expansion_mrr,
        contraction_mrr,
        churn_mrr,
        fx_adjustment_mrr,
        row_number() over (partition by local_month_start order by day) as from_start,
        row_number() over (partition by local_month_start order by day desc) as from_end
    from {{ source('stripe', 'sigma_mrr_waterfall') }}
)

select
    month,
    min(day) as first_day,
    max(day) as last_day,
    count(*) as days_landed,
    max(case when from_start = 1 then beginning_mrr end) as beginning_mrr,
    sum(new_mrr) as new_mrr,
    sum(reactivation_mrr) as reactivation_mrr,
    sum(expansion_mrr) as expansion_mrr,
    sum(contraction_mrr) as contraction_mrr,
    sum(churn_mrr) as churn_mrr,
    sum(fx_adjustment_mrr) as fx_adjustment_mrr,
    max(case when from_end = 1 then ending_mrr end) as ending_mrr,
    max(case when from_start = 1 then beginning_subscribers end) as beginning_subscribers,
    max(case when from_end = 1 then ending_subscribers end) as ending_subscribers
from days
group by month

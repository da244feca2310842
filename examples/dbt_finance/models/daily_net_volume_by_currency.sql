-- Net volume per day and currency from the activity report: one row per (day, currency) with the
-- transactions' count and their gross, fee and net (the currency's major units, as the report has them).
--
-- Incremental by day: a run given min_day/max_day (Dagster's partition window) replaces exactly
-- those days, all currencies at once, so a re-run never duplicates and a currency gone from a
-- re-landed day goes from the model too.
{{
  config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='day',
    tags=['daily'],
  )
}}

select
    cast(_partition as date) as day,
    currency,
    count(*) as transactions,
    sum(gross) as gross,
    sum(fee) as fee,
    sum(net) as net
from {{ source('stripe', 'balance_change_from_activity_itemized_3') }}
{% if var('min_day') is not none %}
where _partition >= {{ day_literal(var('min_day')) }}
  and _partition <= {{ day_literal(var('max_day')) }}
{% endif %}
group by 1, 2

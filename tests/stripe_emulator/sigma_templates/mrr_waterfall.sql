-- Stripe's monthly MRR and subscriber waterfall, as docs.stripe.com/stripe-data/query-billing-data
-- prints it (Subscription Item Change Events, "Example queries"), in USD minor units.
WITH ts_grouped_sub_item_events AS (
  SELECT local_event_timestamp, customer_id, currency, sum(mrr_change) AS mrr_change
  FROM subscription_item_change_events
  GROUP BY 1, 2, 3
),
ts_grouped_sub_item_events_with_mrr AS (
  SELECT
    *,
    date_trunc('day', date(local_event_timestamp)) AS local_event_date,
    sum(mrr_change) OVER (PARTITION BY customer_id ORDER BY local_event_timestamp ASC) AS mrr,
    count(nullif(mrr_change, 0)) OVER (PARTITION BY customer_id ORDER BY local_event_timestamp ASC) AS mrr_change_count
  FROM ts_grouped_sub_item_events
),
ts_grouped_sub_item_events_with_previous_mrr AS (
  SELECT
    *,
    coalesce(
      last_value(mrr) IGNORE NULLS OVER (
        PARTITION BY customer_id ORDER BY local_event_timestamp ASC
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
      ),
      0
    ) AS previous_mrr
  FROM ts_grouped_sub_item_events_with_mrr
),
customer_events AS (
  SELECT
    *,
    CASE
      WHEN mrr = 0 AND previous_mrr > 0 THEN 'ACTIVE_END'
      WHEN mrr > 0 AND previous_mrr = 0 AND mrr_change_count = 1 THEN 'ACTIVE_START'
      WHEN mrr > 0 AND previous_mrr = 0 AND mrr_change_count > 1 THEN 'REACTIVATE'
      WHEN mrr > previous_mrr THEN 'ACTIVE_UPGRADE'
      WHEN mrr < previous_mrr THEN 'ACTIVE_DOWNGRADE'
      ELSE NULL
    END AS cus_event_type
  FROM ts_grouped_sub_item_events_with_previous_mrr
),
date_grouped_customer_events AS (
  SELECT
    local_event_date,
    currency,
    sum(mrr_change) AS mrr_change,
    sum(CASE cus_event_type WHEN 'ACTIVE_START' THEN mrr_change ELSE 0 END) AS new_mrr,
    sum(CASE cus_event_type WHEN 'REACTIVATE' THEN mrr_change ELSE 0 END) AS reactivation_mrr,
    sum(CASE cus_event_type WHEN 'ACTIVE_UPGRADE' THEN mrr_change ELSE 0 END) AS expansion_mrr,
    sum(CASE cus_event_type WHEN 'ACTIVE_DOWNGRADE' THEN mrr_change ELSE 0 END) AS contraction_mrr,
    sum(CASE cus_event_type WHEN 'ACTIVE_END' THEN mrr_change ELSE 0 END) AS churn_mrr,
    sum(
      CASE WHEN mrr = 0 AND previous_mrr > 0 THEN -1 WHEN mrr > 0 AND previous_mrr = 0 THEN 1 ELSE 0 END
    ) AS active_subscribers_change,
    sum(CASE cus_event_type WHEN 'ACTIVE_END' THEN 1 ELSE 0 END) AS churned_subscribers,
    sum(CASE cus_event_type WHEN 'ACTIVE_START' THEN 1 ELSE 0 END) AS new_subscribers,
    sum(CASE cus_event_type WHEN 'REACTIVATE' THEN 1 ELSE 0 END) AS reactivated_subscribers
  FROM customer_events
  GROUP BY 1, 2
),
dates_with_rate_per_usd AS (
  SELECT
    date - INTERVAL '1' DAY AS fx_date,
    cast(json_parse(buy_currency_exchange_rates) AS map(varchar, double)) AS rate_per_usd
  FROM exchange_rates_from_usd
),
currencies AS (
  SELECT DISTINCT(currency) FROM subscription_item_change_events
),
first_default_currency AS (
  SELECT default_currency FROM accounts WHERE default_currency IS NOT NULL LIMIT 1
),
dates_x_currencies_with_conversion_rate AS (
  SELECT
    fx_date AS local_date,
    currency,
    default_currency,
    1 / rate_per_usd[currency] * rate_per_usd[coalesce(default_currency, 'usd')] AS conversion_rate
  FROM dates_with_rate_per_usd
  CROSS JOIN currencies
  CROSS JOIN first_default_currency
  ORDER BY 1, 2
),
daily_metrics_by_currency AS (
  SELECT
    dpc.local_date,
    dpc.currency,
    dpc.conversion_rate,
    coalesce(sum(mrr_change) OVER (PARTITION BY dpc.currency ORDER BY dpc.local_date ASC), 0) AS mrr,
    coalesce(
      round(sum(mrr_change) OVER (PARTITION BY dpc.currency ORDER BY dpc.local_date ASC) * dpc.conversion_rate),
      0
    ) AS converted_mrr,
    coalesce(round(new_mrr * conversion_rate), 0) AS converted_new_mrr,
    coalesce(round(reactivation_mrr * conversion_rate), 0) AS converted_reactivation_mrr,
    coalesce(round(expansion_mrr * conversion_rate), 0) AS converted_expansion_mrr,
    coalesce(round(contraction_mrr * conversion_rate), 0) AS converted_contraction_mrr,
    coalesce(round(churn_mrr * conversion_rate), 0) AS converted_churn_mrr,
    coalesce(dgce.mrr_change, 0) AS mrr_change,
    coalesce(sum(active_subscribers_change) OVER (PARTITION BY dpc.currency ORDER BY dpc.local_date ASC), 0)
      AS active_subscribers,
    coalesce(dgce.churned_subscribers, 0) AS churned_subscribers,
    coalesce(dgce.new_subscribers, 0) AS new_subscribers,
    coalesce(dgce.reactivated_subscribers, 0) AS reactivated_subscribers
  FROM dates_x_currencies_with_conversion_rate dpc
  LEFT JOIN date_grouped_customer_events dgce
    ON dpc.local_date = dgce.local_event_date AND dpc.currency = dgce.currency
),
daily_metrics AS (
  SELECT
    local_date,
    sum(converted_mrr) AS mrr,
    sum(converted_new_mrr) AS new_mrr,
    sum(converted_reactivation_mrr) AS reactivation_mrr,
    sum(converted_expansion_mrr) AS expansion_mrr,
    sum(converted_contraction_mrr) AS contraction_mrr,
    sum(converted_churn_mrr) AS churn_mrr,
    sum(active_subscribers) AS active_subscribers,
    sum(churned_subscribers) AS churned_subscribers,
    sum(new_subscribers) AS new_subscribers,
    sum(reactivated_subscribers) AS reactivated_subscribers
  FROM daily_metrics_by_currency
  GROUP BY 1
),
daily_metrics_with_derived AS (
  SELECT
    *,
    mrr - lag(mrr) OVER (ORDER BY local_date) - new_mrr - reactivation_mrr - expansion_mrr - contraction_mrr
      - churn_mrr AS fx_adjustment_mrr,
    lag(mrr) OVER (ORDER BY local_date) AS previous_mrr
  FROM daily_metrics
),
monthly_metrics_with_derived AS (
  SELECT
    date_trunc('month', local_date) AS local_month_start,
    max_by(mrr, local_date) AS ending_mrr,
    sum(new_mrr) AS new_mrr,
    sum(reactivation_mrr) AS reactivation_mrr,
    sum(expansion_mrr) AS expansion_mrr,
    sum(contraction_mrr) AS contraction_mrr,
    sum(churn_mrr) AS churn_mrr,
    sum(fx_adjustment_mrr) AS fx_adjustment_mrr,
    max_by(active_subscribers, local_date) AS ending_subscribers,
    sum(churned_subscribers) AS churned_subscribers,
    sum(new_subscribers) AS new_subscribers,
    sum(reactivated_subscribers) AS reactivated_subscribers
  FROM daily_metrics_with_derived
  GROUP BY 1
)
SELECT
  local_month_start,
  ending_mrr - fx_adjustment_mrr - churn_mrr - contraction_mrr - expansion_mrr - reactivation_mrr - new_mrr
    AS beginning_mrr,
  new_mrr,
  reactivation_mrr,
  expansion_mrr,
  contraction_mrr,
  churn_mrr,
  fx_adjustment_mrr,
  ending_mrr,
  ending_subscribers - (-1 * churned_subscribers) - reactivated_subscribers - new_subscribers
    AS beginning_subscribers,
  new_subscribers,
  reactivated_subscribers,
  churned_subscribers,
  ending_subscribers
FROM monthly_metrics_with_derived
ORDER BY 1 DESC

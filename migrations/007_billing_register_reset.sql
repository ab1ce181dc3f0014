-- Register resets (meter replaced or reset) in billing_usage: consumption is
-- summed over monotonic register segments (services/loader/src/billing.ts,
-- periodUsage; README "Billing rule"). register_reset = 1 when the register
-- went backwards in or across the period, register_resets how many times;
-- such a period is always estimated. Rows written before this migration read 0.
-- (18.16 has no ADD COLUMN IF NOT EXISTS; the migration runner applies each file once.)
ALTER TABLE {{db}}.billing_usage ADD COLUMN register_reset UInt8 DEFAULT 0 AFTER end_estimated;

ALTER TABLE {{db}}.billing_usage ADD COLUMN register_resets UInt32 DEFAULT 0 AFTER register_reset;

-- On 18.16 a view's `SELECT *` is expanded when the view is created: recreate
-- `billing` (003_billing.sql) so that it shows the new columns.
DROP TABLE IF EXISTS {{db}}.billing;

CREATE VIEW IF NOT EXISTS {{db}}.billing AS
SELECT * FROM {{db}}.billing_usage FINAL;

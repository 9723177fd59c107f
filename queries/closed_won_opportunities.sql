-- Closed-won opportunities as the CRM sees them: the source side of the demo's
-- opportunities_vs_invoices reconciliation when read through `query:`.
SELECT id, account_name, amount, currency, close_date, stage, lead_source, owner_email, updated_at
FROM opportunities
WHERE stage = 'Closed Won'

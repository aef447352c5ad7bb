-- Bank transfers (docs/FUNDING.md): a return from the bank is an activity of its own, the
-- cash a returned deposit takes back or a returned withdrawal gives back.
ALTER TABLE activities DROP CONSTRAINT activities_activity_type_check;
ALTER TABLE activities ADD CONSTRAINT activities_activity_type_check CHECK (activity_type IN
    ('FILL', 'DEPOSIT', 'WITHDRAWAL', 'SHARE_DEPOSIT', 'DEPOSIT_RETURNED', 'WITHDRAWAL_RETURNED'));

-- Who changed what: every admin action (tokens, alert rules, integrations, webhook sources,
-- incident acknowledgements and mutes, settings), including the Kubernetes operator's, written in
-- the same transaction as the change it records. Rows hold names and ids, never secrets.
create table audit_log (
    id bigserial primary key,
    at timestamptz not null default now(),
    -- The token's name, 'kubernetes operator' for an operator token, or 'bootstrap admin'
    -- (CICD_ADMIN_TOKEN, which has no row).
    actor text not null,
    actor_token_id bigint,
    actor_scope text not null,
    -- `<kind>.<verb>`, e.g. token.created, alert_rule.deleted, incident.muted.
    action text not null,
    target_kind text not null,
    target_id text,
    target_name text,
    detail jsonb not null default '{}'
);

-- Newest first (the listing's keyset), and the listing's filters.
create index audit_log_by_action on audit_log (action, id desc);
create index audit_log_by_target on audit_log (target_kind, target_id, id desc);
create index audit_log_by_at on audit_log (at);

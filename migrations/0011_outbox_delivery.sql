-- Up Migration
-- Nothing committed to the outbox is ever skipped, and the outbox stays bounded (issue "The tenet in
-- every case"). The connector side (snapshot.mode=when_needed, heartbeats) is in debezium/README.md.

-- Debezium's heartbeat.action.query inserts here every heartbeat.interval.ms. The table is in the
-- publication (not in the connector's table.include.list), so an idle outbox still gives the
-- connector a committed change to move its offset, and the slot, past unrelated WAL (Debezium
-- PostgreSQL connector documentation, "WAL disk space consumption").
create table checkout.cdc_heartbeat (
  id bigint generated always as identity primary key,
  at timestamptz not null default now()
);
comment on table checkout.cdc_heartbeat is 'Written by the Debezium connector (heartbeat.action.query) so its replication slot advances while the outbox is idle. Rows carry nothing; purge_outbox deletes them after an hour.';
alter publication checkout_outbox add table checkout.cdc_heartbeat;
grant select, insert on checkout.cdc_heartbeat to checkout_cdc;

-- Which transaction wrote each row: retention deletes a row only once a mark that saw that
-- transaction committed lies behind the slot's confirmed position (purge_outbox).
alter table checkout.outbox add column txid bigint not null default (pg_current_xact_id()::text::bigint);
comment on column checkout.outbox.txid is 'Id of the writing transaction (pg_current_xact_id), so purge_outbox can tell which rows the replication slot has passed.';
create index outbox_created_at_idx on checkout.outbox (created_at);

create table checkout.outbox_retention_marks (
  id             bigint generated always as identity primary key,
  at             timestamptz not null default now(),
  wal_lsn        pg_lsn not null,
  snapshot       pg_snapshot not null,
  slot_confirmed pg_lsn not null
);
comment on table checkout.outbox_retention_marks is 'Written by purge_outbox: the WAL insert position and the committed transactions at one moment, while the slot had not yet reached that position. Once the slot''s confirmed position passes wal_lsn, every row those transactions wrote was delivered.';

create function checkout.purge_outbox(p_retention interval, p_slot_name name default 'checkout_outbox')
  returns jsonb
  language plpgsql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_slot    pg_lsn;
  v_mark    checkout.outbox_retention_marks;
  v_events  bigint := 0;
  v_beats   bigint;
begin
  if p_retention is null or p_retention < interval '1 hour' then
    raise exception 'retention % is too short: keep outbox rows at least an hour', p_retention using errcode = '22023';
  end if;
  select confirmed_flush_lsn into v_slot
    from pg_replication_slots where slot_name = p_slot_name and database = current_database();

  if v_slot is not null then
    -- The snapshot is taken when this statement starts and the WAL position is read after it, so
    -- every transaction the snapshot sees as committed has its commit record before wal_lsn. A mark
    -- is only taken while the slot is behind it, so the slot can only reach it by confirming
    -- changes Debezium delivered (a slot created later would be ahead already: no mark qualifies).
    insert into checkout.outbox_retention_marks (wal_lsn, snapshot, slot_confirmed)
    select pg_current_wal_insert_lsn(), pg_current_snapshot(), v_slot
     where pg_current_wal_insert_lsn() > v_slot;

    select * into v_mark from checkout.outbox_retention_marks
     where wal_lsn <= v_slot order by id desc limit 1;
    if found then
      delete from checkout.outbox o
       where o.created_at < now() - p_retention
         and pg_visible_in_snapshot(o.txid::text::xid8, v_mark.snapshot);
      get diagnostics v_events = row_count;
      delete from checkout.outbox_retention_marks where id < v_mark.id;
    end if;
  end if;

  delete from checkout.cdc_heartbeat where at < now() - interval '1 hour';
  get diagnostics v_beats = row_count;
  return jsonb_build_object('deletedEvents', v_events, 'deletedHeartbeats', v_beats,
                            'slotFound', v_slot is not null, 'slotConfirmedLsn', v_slot::text);
end;
$$;
comment on function checkout.purge_outbox(interval, name) is
  'Retention: deletes outbox rows older than p_retention that the replication slot has passed (deletes are not published). Without the slot it deletes nothing. Run by the outbox retention job under an advisory lock.';
revoke execute on function checkout.purge_outbox(interval, name) from public;
grant execute on function checkout.purge_outbox(interval, name) to checkout_app;

create function checkout.outbox_delivery_status(p_slot_name name default 'checkout_outbox')
  returns table (slot_exists boolean, slot_active boolean, slot_lag_bytes numeric, oldest_event_age_seconds double precision)
  language sql stable security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
  select s.slot_name is not null,
         coalesce(s.active, false),
         pg_wal_lsn_diff(pg_current_wal_insert_lsn(), s.confirmed_flush_lsn),
         extract(epoch from now() - (select min(created_at) from checkout.outbox))::float8
    from (select 1) one
    left join pg_replication_slots s on s.slot_name = p_slot_name and s.database = current_database()
$$;
comment on function checkout.outbox_delivery_status(name) is 'For /metrics and DBAs: whether the Debezium slot exists and streams, how many bytes of WAL it has not confirmed, and the age of the oldest outbox row.';
revoke execute on function checkout.outbox_delivery_status(name) from public;
grant execute on function checkout.outbox_delivery_status(name) to checkout_app, checkout_readonly;

-- Recovery (npm run cdc:redeliver): the same rows, with their ids, payloads and created_at, written
-- to the WAL again so the connector sends them again. Delete and insert in one transaction; the
-- delete is not published (publication publish = 'insert').
create function checkout.redeliver_outbox(p_since timestamptz, p_until timestamptz default 'infinity')
  returns integer
  language plpgsql volatile
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_count integer;
begin
  with taken as (
    delete from checkout.outbox where created_at >= p_since and created_at < p_until
    returning id, aggregatetype, aggregateid, type, payload, created_at)
  insert into checkout.outbox (id, aggregatetype, aggregateid, type, payload, created_at)
  select id, aggregatetype, aggregateid, type, payload, created_at from taken order by created_at, id;
  get diagnostics v_count = row_count;
  return v_count;
end;
$$;
comment on function checkout.redeliver_outbox(timestamptz, timestamptz) is 'Recovery, for the schema owner: makes the connector send again every outbox row created in [p_since, p_until), with its original id. Consumers de-duplicate on the id.';
revoke execute on function checkout.redeliver_outbox(timestamptz, timestamptz) from public;

-- Down Migration
drop function checkout.redeliver_outbox(timestamptz, timestamptz);
drop function checkout.outbox_delivery_status(name);
drop function checkout.purge_outbox(interval, name);
drop table checkout.outbox_retention_marks;
drop index checkout.outbox_created_at_idx;
alter table checkout.outbox drop column txid;
alter publication checkout_outbox drop table checkout.cdc_heartbeat;
drop table checkout.cdc_heartbeat;

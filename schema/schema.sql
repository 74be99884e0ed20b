--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: pg_trgm; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

--
-- Name: clubos_notify_events(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.clubos_notify_events() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  PERFORM pg_notify('clubos_events', TG_ARGV[0]);
  RETURN NULL;
END $$;

--
-- Name: feedback_history_append_only(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.feedback_history_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  RAISE EXCEPTION 'feedback_history is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

--
-- Name: knowledge_documents_changed(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.knowledge_documents_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  PERFORM pg_notify('clubos_jobs', ':knowledge');
  RETURN NULL;
END $$;

--
-- Name: knowledge_phrase_words(text[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.knowledge_phrase_words(phrases text[]) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT translate(array_to_string(phrases, ' '), '*|&~_', '     ') $$;

--
-- Name: knowledge_versions_append_only(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.knowledge_versions_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  RAISE EXCEPTION 'knowledge_versions is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

--
-- Name: transitions_append_only(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.transitions_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  RAISE EXCEPTION 'transitions is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: actions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.actions (
    id bigint NOT NULL,
    thread_id bigint,
    kind text NOT NULL,
    target jsonb NOT NULL,
    params jsonb DEFAULT '{}'::jsonb NOT NULL,
    triggered_by text NOT NULL,
    reason text NOT NULL,
    booking_id text,
    state text NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    attempt integer DEFAULT 0 NOT NULL,
    idempotency_key text NOT NULL,
    result text,
    error text,
    decision jsonb,
    rollback_needed boolean DEFAULT false NOT NULL,
    human_override boolean DEFAULT false NOT NULL,
    confirm_expires_at timestamp with time zone,
    executed_at timestamp with time zone,
    verify_deadline timestamp with time zone,
    baseline jsonb,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    confirmed_by text,
    external_ref jsonb,
    rollback jsonb,
    started_at timestamp with time zone,
    CONSTRAINT actions_kind_check CHECK ((kind = ANY (ARRAY['reset_trackman'::text, 'reboot_pc'::text, 'unlock_door'::text, 'send_message'::text, 'notify_operator'::text, 'create_ticket'::text]))),
    CONSTRAINT actions_result_check CHECK ((result = ANY (ARRAY['success'::text, 'failed'::text, 'inconclusive'::text]))),
    CONSTRAINT actions_result_when_done CHECK (((state = 'verified'::text) <= (result = 'success'::text))),
    CONSTRAINT actions_state_check CHECK ((state = ANY (ARRAY['received'::text, 'routed'::text, 'awaiting_confirmation'::text, 'confirmed'::text, 'executing'::text, 'executed'::text, 'verified'::text, 'escalated'::text, 'rejected'::text, 'cancelled'::text]))),
    CONSTRAINT actions_triggered_by_check CHECK ((triggered_by ~ '^(router|chain|operator:.+)$'::text))
);

--
-- Name: action_outcomes; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.action_outcomes AS
 SELECT a.id AS action_id,
    a.kind AS action,
    ((a.target ->> 'bay'::text))::integer AS bay,
    (a.target ->> 'location'::text) AS location,
    a.result,
    a.reason AS followed_sop,
    a.triggered_by AS trigger_source,
    a.human_override,
    a.thread_id AS linked_thread,
    a.rollback_needed,
    a.state,
    a.updated_at AS "timestamp",
    1 AS schema_version,
    (a.target ->> 'door'::text) AS door,
    a.booking_id,
    a.attempt,
    a.error
   FROM public.actions a;

--
-- Name: actions_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.actions_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: actions_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.actions_id_seq OWNED BY public.actions.id;

--
-- Name: agent_devices; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.agent_devices (
    device_id text NOT NULL,
    tps_version text,
    tps_running boolean NOT NULL,
    radar_reachable boolean NOT NULL,
    tps_started_at timestamp with time zone,
    booted_at timestamp with time zone,
    last_seen_at timestamp with time zone NOT NULL
);

--
-- Name: agent_reports; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.agent_reports (
    command_id bigint NOT NULL,
    device_id text NOT NULL,
    action_key text NOT NULL,
    command text NOT NULL,
    success boolean NOT NULL,
    message text NOT NULL,
    reported_at timestamp with time zone NOT NULL,
    CONSTRAINT agent_reports_message_check CHECK ((octet_length(message) <= 4096))
);

--
-- Name: api_idempotency_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.api_idempotency_keys (
    principal text NOT NULL,
    key text NOT NULL,
    request_hash text NOT NULL,
    status integer,
    response text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT api_idempotency_keys_key_check CHECK (((octet_length(key) >= 1) AND (octet_length(key) <= 255))),
    CONSTRAINT api_idempotency_keys_status_check CHECK (((status >= 200) AND (status <= 299)))
);

--
-- Name: audit_action_success; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.audit_action_success AS
 SELECT (a.target ->> 'location'::text) AS location,
    a.kind,
    ((a.target ->> 'bay'::text))::integer AS bay,
    (a.target ->> 'door'::text) AS door,
    count(*) AS requested,
    count(a.result) AS finished,
    count(*) FILTER (WHERE (a.result = 'success'::text)) AS success,
    count(*) FILTER (WHERE (a.result = 'failed'::text)) AS failed,
    count(*) FILTER (WHERE (a.result = 'inconclusive'::text)) AS inconclusive,
    count(*) FILTER (WHERE ((a.result IS NULL) AND (a.state = ANY (ARRAY['rejected'::text, 'cancelled'::text, 'escalated'::text])))) AS called_off,
    round(((100.0 * (count(*) FILTER (WHERE (a.result = 'success'::text)))::numeric) / (NULLIF(count(a.result), 0))::numeric), 1) AS success_pct,
    count(*) FILTER (WHERE a.rollback_needed) AS rollbacks_flagged
   FROM public.actions a
  GROUP BY (a.target ->> 'location'::text), a.kind, ((a.target ->> 'bay'::text))::integer, (a.target ->> 'door'::text);

--
-- Name: policy_versions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.policy_versions (
    id integer NOT NULL,
    profile jsonb NOT NULL,
    state text NOT NULL,
    based_on integer,
    diff jsonb DEFAULT '[]'::jsonb NOT NULL,
    note text,
    proposed_by text NOT NULL,
    proposed_at timestamp with time zone DEFAULT now() NOT NULL,
    approved_by text,
    approved_at timestamp with time zone,
    CONSTRAINT policy_versions_active_approved CHECK (((state = ANY (ARRAY['active'::text, 'retired'::text])) <= (approved_by IS NOT NULL))),
    CONSTRAINT policy_versions_four_eyes CHECK (((approved_by IS NULL) OR (approved_by <> proposed_by))),
    CONSTRAINT policy_versions_state_check CHECK ((state = ANY (ARRAY['proposed'::text, 'active'::text, 'retired'::text, 'rejected'::text])))
);

--
-- Name: threads; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.threads (
    id bigint NOT NULL,
    location text NOT NULL,
    customer_phone text NOT NULL,
    facility_line text NOT NULL,
    state text NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    priority smallint DEFAULT 100 NOT NULL,
    intent jsonb,
    decision jsonb,
    escalation_reason text,
    escalation jsonb,
    claimed_by text,
    last_routed_message_id bigint,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    paused_until timestamp with time zone,
    paused_by text,
    escalated_at timestamp with time zone,
    CONSTRAINT threads_escalation_reason CHECK (((state = 'escalated'::text) <= (escalation_reason IS NOT NULL))),
    CONSTRAINT threads_state_check CHECK ((state = ANY (ARRAY['received'::text, 'routed'::text, 'awaiting_confirmation'::text, 'executed'::text, 'verified'::text, 'escalated'::text, 'closed'::text])))
);

--
-- Name: transitions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.transitions (
    id bigint NOT NULL,
    entity text NOT NULL,
    entity_id bigint NOT NULL,
    from_state text,
    event text NOT NULL,
    to_state text NOT NULL,
    actor text NOT NULL,
    reason text,
    data jsonb DEFAULT '{}'::jsonb NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    tx xid8 DEFAULT pg_current_xact_id() NOT NULL,
    CONSTRAINT transitions_entity_check CHECK ((entity = ANY (ARRAY['thread'::text, 'action'::text])))
);

--
-- Name: audit_decisions_by_policy; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.audit_decisions_by_policy AS
 SELECT (((tr.data -> 'decision'::text) ->> 'policy_version'::text))::integer AS policy_version,
    p.state AS policy_state,
    p.note AS policy_note,
    p.approved_by AS policy_approved_by,
    p.approved_at AS policy_approved_at,
    tr.at AS decided_at,
    tr.entity_id AS thread_id,
    t.location,
    ((tr.data -> 'intent'::text) ->> 'category'::text) AS category,
    ((tr.data -> 'intent'::text) ->> 'action'::text) AS intended_action,
    (((tr.data -> 'intent'::text) ->> 'confidence'::text))::numeric AS confidence,
    ((tr.data -> 'decision'::text) ->> 'outcome'::text) AS outcome,
    ((tr.data -> 'decision'::text) ->> 'escalation_reason'::text) AS escalation_reason,
    ( SELECT string_agg(r.value, '; '::text) AS string_agg
           FROM jsonb_array_elements_text(((tr.data -> 'decision'::text) -> 'reasons'::text)) r(value)) AS reasons,
    ((tr.data -> 'decision'::text) -> 'facts'::text) AS facts
   FROM ((public.transitions tr
     JOIN public.threads t ON ((t.id = tr.entity_id)))
     LEFT JOIN public.policy_versions p ON ((p.id = (((tr.data -> 'decision'::text) ->> 'policy_version'::text))::integer)))
  WHERE ((tr.entity = 'thread'::text) AND (tr.event = 'routed'::text));

--
-- Name: audit_escalations_daily; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.audit_escalations_daily AS
 SELECT (tr.at)::date AS day,
    t.location,
    tr.reason,
    count(*) AS escalations,
    count(DISTINCT tr.entity_id) AS threads,
    count(DISTINCT tr.entity_id) FILTER (WHERE (t.state = 'escalated'::text)) AS threads_open_now
   FROM (public.transitions tr
     JOIN public.threads t ON ((t.id = tr.entity_id)))
  WHERE ((tr.entity = 'thread'::text) AND (tr.to_state = 'escalated'::text) AND (tr.from_state IS DISTINCT FROM 'escalated'::text))
  GROUP BY ((tr.at)::date), t.location, tr.reason;

--
-- Name: messages; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.messages (
    id bigint NOT NULL,
    thread_id bigint NOT NULL,
    direction text NOT NULL,
    external_id text,
    from_phone text NOT NULL,
    to_phone text NOT NULL,
    body text NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    source text DEFAULT 'legacy'::text NOT NULL,
    CONSTRAINT messages_body_check CHECK ((octet_length(body) <= 16384)),
    CONSTRAINT messages_direction_check CHECK ((direction = ANY (ARRAY['in'::text, 'out'::text]))),
    CONSTRAINT messages_source_check CHECK ((source = ANY (ARRAY['legacy'::text, 'openphone'::text, 'api'::text])))
);

--
-- Name: audit_message_to_verified; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.audit_message_to_verified AS
 SELECT t.id AS thread_id,
    t.location,
    (t.intent ->> 'category'::text) AS category,
    va.kind AS action_kind,
    fm.at AS first_message_at,
    v.at AS verified_at,
    round(EXTRACT(epoch FROM (v.at - fm.at)), 3) AS seconds,
    round(EXTRACT(epoch FROM (c.confirmed_at - c.asked_at)), 3) AS customer_seconds,
    round(EXTRACT(epoch FROM ((v.at - fm.at) - COALESCE((c.confirmed_at - c.asked_at), '00:00:00'::interval))), 3) AS clubos_seconds
   FROM ((((public.threads t
     JOIN LATERAL ( SELECT tr.id,
            tr.at,
            ((tr.data ->> 'action_id'::text))::bigint AS action_id
           FROM public.transitions tr
          WHERE ((tr.entity = 'thread'::text) AND (tr.entity_id = t.id) AND (tr.event = 'verified'::text))
          ORDER BY tr.id
         LIMIT 1) v ON (true))
     JOIN LATERAL ( SELECT min(m.received_at) AS at
           FROM public.messages m
          WHERE ((m.thread_id = t.id) AND (m.direction = 'in'::text))) fm ON (true))
     LEFT JOIN public.actions va ON ((va.id = v.action_id)))
     LEFT JOIN LATERAL ( SELECT min(tr.at) FILTER (WHERE (tr.event = 'confirmation_requested'::text)) AS asked_at,
            min(tr.at) FILTER (WHERE (tr.event = 'confirmed'::text)) AS confirmed_at
           FROM public.transitions tr
          WHERE ((tr.entity = 'thread'::text) AND (tr.entity_id = t.id) AND (tr.id < v.id))) c ON (true));

--
-- Name: suggestions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.suggestions (
    id bigint NOT NULL,
    thread_id bigint NOT NULL,
    kind text NOT NULL,
    target jsonb NOT NULL,
    params jsonb DEFAULT '{}'::jsonb NOT NULL,
    reason text NOT NULL,
    decision jsonb NOT NULL,
    booking_id text,
    state text DEFAULT 'pending'::text NOT NULL,
    decided_by text,
    decided_at timestamp with time zone,
    action_id bigint,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    CONSTRAINT suggestions_decided CHECK (((state = 'pending'::text) = (decided_by IS NULL))),
    CONSTRAINT suggestions_state_check CHECK ((state = ANY (ARRAY['pending'::text, 'approved'::text, 'rejected'::text])))
);

--
-- Name: audit_physical_actions; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.audit_physical_actions AS
 SELECT a.id AS action_id,
    a.created_at AS requested_at,
    a.kind,
    (a.target ->> 'location'::text) AS location,
    ((a.target ->> 'bay'::text))::integer AS bay,
    (a.target ->> 'door'::text) AS door,
    (a.target ->> 'device_id'::text) AS device_id,
    a.thread_id,
    a.booking_id,
    a.triggered_by,
    a.confirmed_by,
    a.human_override,
    s.id AS suggestion_id,
    a.reason AS followed_sop,
    ((d.decision ->> 'policy_version'::text))::integer AS policy_version,
    (d.decision ->> 'outcome'::text) AS decision,
    ( SELECT string_agg(r.value, '; '::text) AS string_agg
           FROM jsonb_array_elements_text((d.decision -> 'reasons'::text)) r(value)) AS reasons,
    a.state,
    a.result,
    a.attempt,
    a.executed_at,
    h.verified_at,
    h.result_at,
    a.error,
    a.rollback_needed
   FROM (((public.actions a
     LEFT JOIN public.suggestions s ON ((s.action_id = a.id)))
     CROSS JOIN LATERAL ( SELECT COALESCE(s.decision, a.decision) AS decision) d)
     LEFT JOIN LATERAL ( SELECT min(tr.at) FILTER (WHERE (tr.event = 'verification_passed'::text)) AS verified_at,
            min(tr.at) FILTER (WHERE (tr.event = ANY (ARRAY['verification_passed'::text, 'verification_failed'::text, 'verification_timeout'::text, 'execution_failed'::text, 'execution_unknown'::text]))) AS result_at
           FROM public.transitions tr
          WHERE ((tr.entity = 'action'::text) AND (tr.entity_id = a.id))) h ON (true))
  WHERE (a.kind = ANY (ARRAY['reset_trackman'::text, 'reboot_pc'::text, 'unlock_door'::text]));

--
-- Name: audit_rollbacks; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.audit_rollbacks AS
 SELECT a.id AS action_id,
    a.kind,
    (a.target ->> 'location'::text) AS location,
    ((a.target ->> 'bay'::text))::integer AS bay,
    (a.target ->> 'door'::text) AS door,
    a.thread_id,
    a.booking_id,
    a.triggered_by,
    a.confirmed_by,
    a.created_at AS requested_at,
    a.executed_at,
    a.state,
    a.result,
    (a.rollback ->> 'by'::text) AS flagged_by,
    (a.rollback ->> 'reason'::text) AS flag_reason,
    ((a.rollback ->> 'at'::text))::timestamp with time zone AS flagged_at,
    ( SELECT count(*) AS count
           FROM public.transitions tr
          WHERE ((tr.entity = 'action'::text) AND (tr.entity_id = a.id) AND (tr.event = 'rollback_flagged'::text))) AS times_flagged,
    t.state AS thread_state,
    r.actor AS resolved_by,
    r.reason AS resolution,
    (r.data ->> 'note'::text) AS resolution_note,
    r.at AS resolved_at
   FROM ((public.actions a
     LEFT JOIN public.threads t ON ((t.id = a.thread_id)))
     LEFT JOIN LATERAL ( SELECT tr.actor,
            tr.reason,
            tr.data,
            tr.at
           FROM public.transitions tr
          WHERE ((tr.entity = 'thread'::text) AND (tr.entity_id = a.thread_id) AND (tr.event = 'resolved'::text) AND (tr.at >= ((a.rollback ->> 'at'::text))::timestamp with time zone))
          ORDER BY tr.id
         LIMIT 1) r ON (true))
  WHERE a.rollback_needed;

--
-- Name: audit_suggestions; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.audit_suggestions AS
 SELECT s.id AS suggestion_id,
    s.created_at AS suggested_at,
    s.thread_id,
    (s.target ->> 'location'::text) AS location,
    s.kind,
    ((s.target ->> 'bay'::text))::integer AS bay,
    (s.target ->> 'door'::text) AS door,
    s.reason AS followed_sop,
    ((s.decision ->> 'policy_version'::text))::integer AS policy_version,
    ( SELECT string_agg(r.value, '; '::text) AS string_agg
           FROM jsonb_array_elements_text((s.decision -> 'reasons'::text)) r(value)) AS reasons,
    s.state,
    s.decided_by,
    s.decided_at,
    round(EXTRACT(epoch FROM (s.decided_at - s.created_at)), 1) AS seconds_to_decision,
    s.action_id,
    a.state AS action_state,
    a.result AS action_result
   FROM (public.suggestions s
     LEFT JOIN public.actions a ON ((a.id = s.action_id)));

--
-- Name: audit_thread_timeline; Type: VIEW; Schema: public; Owner: -
--

CREATE VIEW public.audit_thread_timeline AS
 SELECT e.thread_id,
    row_number() OVER (PARTITION BY e.thread_id ORDER BY e.at, e.rank, e.id) AS seq,
    e.at,
    e.source,
    e.action_id,
    e.action_kind,
    e.from_state,
    e.event,
    e.to_state,
    e.actor,
    e.detail,
    e.data
   FROM ( SELECT m.thread_id,
            m.received_at AS at,
            0 AS rank,
            m.id,
            'message'::text AS source,
            NULL::bigint AS action_id,
            NULL::text AS action_kind,
            NULL::text AS from_state,
            ('message_'::text || m.direction) AS event,
            NULL::text AS to_state,
                CASE m.direction
                    WHEN 'in'::text THEN 'customer'::text
                    ELSE 'clubos'::text
                END AS actor,
            m.body AS detail,
            jsonb_build_object('message_id', m.id, 'external_id', m.external_id) AS data
           FROM public.messages m
        UNION ALL
         SELECT tr.entity_id,
            tr.at,
            1,
            tr.id,
            'thread'::text,
            NULL::bigint,
            NULL::text,
            tr.from_state,
            tr.event,
            tr.to_state,
            tr.actor,
            tr.reason,
            tr.data
           FROM public.transitions tr
          WHERE (tr.entity = 'thread'::text)
        UNION ALL
         SELECT a.thread_id,
            tr.at,
            1,
            tr.id,
            'action'::text,
            a.id,
            a.kind,
            tr.from_state,
            tr.event,
            tr.to_state,
            tr.actor,
                CASE
                    WHEN (tr.event = 'requested'::text) THEN (((a.reason || COALESCE(((' [bay '::text || (a.target ->> 'bay'::text)) || ']'::text), ''::text)) || COALESCE(((' [door '::text || (a.target ->> 'door'::text)) || ']'::text), ''::text)) || COALESCE((': '::text || (a.params ->> 'text'::text)), ''::text))
                    ELSE tr.reason
                END AS reason,
            tr.data
           FROM (public.transitions tr
             JOIN public.actions a ON ((a.id = tr.entity_id)))
          WHERE ((tr.entity = 'action'::text) AND (a.thread_id IS NOT NULL))) e;

--
-- Name: bookings; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.bookings (
    id text NOT NULL,
    location text NOT NULL,
    bay integer,
    customer_phone text NOT NULL,
    start_at timestamp with time zone NOT NULL,
    end_at timestamp with time zone NOT NULL,
    customer_flagged boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT bookings_span CHECK ((end_at > start_at))
);

--
-- Name: cases; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cases (
    id bigint NOT NULL,
    origin text NOT NULL,
    state text DEFAULT 'new'::text NOT NULL,
    closed_reason text,
    thread_id bigint,
    action_id bigint NOT NULL,
    message_id bigint,
    feedback_id bigint,
    outcome text,
    intent jsonb,
    answer text,
    sop_id text,
    sop_version integer,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    proposal_id bigint,
    CONSTRAINT cases_action_origin CHECK (((origin = 'action'::text) = (outcome IS NOT NULL))),
    CONSTRAINT cases_closed_reason CHECK (((state = 'closed'::text) >= (closed_reason IS NOT NULL))),
    CONSTRAINT cases_feedback_origin CHECK (((origin = 'feedback'::text) = (feedback_id IS NOT NULL))),
    CONSTRAINT cases_origin_check CHECK ((origin = ANY (ARRAY['feedback'::text, 'action'::text]))),
    CONSTRAINT cases_outcome_check CHECK ((outcome = ANY (ARRAY['failed'::text, 'inconclusive'::text, 'rollback_needed'::text]))),
    CONSTRAINT cases_state_check CHECK ((state = ANY (ARRAY['new'::text, 'grouped'::text, 'proposed'::text, 'closed'::text])))
);

--
-- Name: cases_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.cases_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: cases_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.cases_id_seq OWNED BY public.cases.id;

--
-- Name: control_events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.control_events (
    id bigint NOT NULL,
    control text NOT NULL,
    value boolean NOT NULL,
    reason text,
    actor text NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: control_events_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.control_events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: control_events_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.control_events_id_seq OWNED BY public.control_events.id;

--
-- Name: emergency_stops; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.emergency_stops (
    scope text NOT NULL,
    engaged boolean NOT NULL,
    reason text NOT NULL,
    changed_by text NOT NULL,
    changed_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT emergency_stops_scope_check CHECK ((scope ~ '^(global|location:.+|category:.+)$'::text))
);

--
-- Name: fake_facility_calls; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.fake_facility_calls (
    id bigint NOT NULL,
    at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    kind text NOT NULL,
    device text NOT NULL,
    idempotency_key text NOT NULL,
    detail text DEFAULT ''::text NOT NULL
);

--
-- Name: fake_facility_calls_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.fake_facility_calls_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: fake_facility_calls_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.fake_facility_calls_id_seq OWNED BY public.fake_facility_calls.id;

--
-- Name: fake_facility_faults; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.fake_facility_faults (
    device text NOT NULL,
    mode text NOT NULL,
    remaining integer NOT NULL
);

--
-- Name: feedback; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.feedback (
    id bigint NOT NULL,
    action_id bigint NOT NULL,
    thread_id bigint NOT NULL,
    source text NOT NULL,
    author text NOT NULL,
    helpful boolean NOT NULL,
    correction text,
    message_id bigint,
    matched text,
    version integer DEFAULT 1 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT feedback_author_check CHECK ((author <> ''::text)),
    CONSTRAINT feedback_correction_check CHECK (((char_length(correction) >= 1) AND (char_length(correction) <= 2000))),
    CONSTRAINT feedback_correction_unhelpful CHECK (((correction IS NULL) OR (NOT helpful))),
    CONSTRAINT feedback_customer_author CHECK (((source = 'customer'::text) = (author = 'customer'::text))),
    CONSTRAINT feedback_customer_text CHECK (((source = 'customer'::text) = (message_id IS NOT NULL))),
    CONSTRAINT feedback_source_check CHECK ((source = ANY (ARRAY['operator'::text, 'customer'::text]))),
    CONSTRAINT feedback_version_check CHECK ((version >= 1))
);

--
-- Name: feedback_history; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.feedback_history (
    id bigint NOT NULL,
    feedback_id bigint NOT NULL,
    action_id bigint NOT NULL,
    author text NOT NULL,
    helpful boolean NOT NULL,
    correction text,
    message_id bigint,
    version integer NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: feedback_history_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.feedback_history_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: feedback_history_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.feedback_history_id_seq OWNED BY public.feedback_history.id;

--
-- Name: feedback_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.feedback_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: feedback_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.feedback_id_seq OWNED BY public.feedback.id;

--
-- Name: jobs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.jobs (
    id bigint NOT NULL,
    queue text DEFAULT 'default'::text NOT NULL,
    kind text NOT NULL,
    args jsonb DEFAULT '{}'::jsonb NOT NULL,
    priority smallint DEFAULT 100 NOT NULL,
    state text NOT NULL,
    run_at timestamp with time zone DEFAULT now() NOT NULL,
    attempt integer DEFAULT 0 NOT NULL,
    max_attempts integer DEFAULT 10 NOT NULL,
    unique_key text,
    lease_owner text,
    lease_expires_at timestamp with time zone,
    last_error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    handler_started boolean DEFAULT false NOT NULL,
    unstarted_rescues smallint DEFAULT 0 NOT NULL,
    CONSTRAINT jobs_args_size CHECK ((octet_length((args)::text) <= 1048576)),
    CONSTRAINT jobs_attempt_bounds CHECK (((attempt >= 0) AND (attempt <= max_attempts))),
    CONSTRAINT jobs_kind_check CHECK ((kind ~ '^[a-z0-9_.:-]{1,64}$'::text)),
    CONSTRAINT jobs_lease_iff_running CHECK (((state = 'running'::text) = ((lease_owner IS NOT NULL) AND (lease_expires_at IS NOT NULL)))),
    CONSTRAINT jobs_max_attempts_check CHECK (((max_attempts >= 1) AND (max_attempts <= 1000))),
    CONSTRAINT jobs_priority_check CHECK (((priority >= 0) AND (priority <= 1000))),
    CONSTRAINT jobs_queue_check CHECK ((queue ~ '^[a-z0-9_.-]{1,64}$'::text)),
    CONSTRAINT jobs_state_check CHECK ((state = ANY (ARRAY['scheduled'::text, 'available'::text, 'running'::text, 'dead'::text])))
)
WITH (autovacuum_vacuum_scale_factor='0.01', autovacuum_vacuum_threshold='1000', autovacuum_vacuum_cost_delay='0', autovacuum_analyze_scale_factor='0.02');

--
-- Name: jobs_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.jobs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: jobs_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.jobs_id_seq OWNED BY public.jobs.id;

--
-- Name: knowledge_conflicts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.knowledge_conflicts (
    id bigint NOT NULL,
    documents text[] NOT NULL,
    reason text NOT NULL,
    found_by text NOT NULL,
    state text DEFAULT 'open'::text NOT NULL,
    resolved_by text,
    resolved_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT knowledge_conflicts_documents_check CHECK (((cardinality(documents) = 2) AND ((documents[1] COLLATE "C") < (documents[2] COLLATE "C")))),
    CONSTRAINT knowledge_conflicts_reason_check CHECK (((char_length(reason) >= 1) AND (char_length(reason) <= 2000))),
    CONSTRAINT knowledge_conflicts_resolved CHECK (((state = 'resolved'::text) = (resolved_by IS NOT NULL))),
    CONSTRAINT knowledge_conflicts_state_check CHECK ((state = ANY (ARRAY['open'::text, 'resolved'::text])))
);

--
-- Name: knowledge_conflicts_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.knowledge_conflicts_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: knowledge_conflicts_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.knowledge_conflicts_id_seq OWNED BY public.knowledge_conflicts.id;

--
-- Name: knowledge_documents; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.knowledge_documents (
    id text NOT NULL,
    active_version integer NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    activated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT knowledge_documents_active_version_check CHECK ((active_version >= 1)),
    CONSTRAINT knowledge_documents_id_check CHECK ((id ~ '^[a-z0-9][a-z0-9._-]*$'::text))
);

--
-- Name: knowledge_events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.knowledge_events (
    id bigint NOT NULL,
    document_id text NOT NULL,
    event text NOT NULL,
    proposal_id bigint,
    version integer,
    actor text NOT NULL,
    note text,
    at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT knowledge_events_event_check CHECK ((event = ANY (ARRAY['proposed'::text, 'replayed'::text, 'approved'::text, 'rejected'::text, 'restored'::text, 'conflict'::text, 'conflict_resolved'::text])))
);

--
-- Name: knowledge_events_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.knowledge_events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: knowledge_events_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.knowledge_events_id_seq OWNED BY public.knowledge_events.id;

--
-- Name: knowledge_proposals; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.knowledge_proposals (
    id bigint NOT NULL,
    document_id text NOT NULL,
    base_version integer NOT NULL,
    state text DEFAULT 'open'::text NOT NULL,
    author text NOT NULL,
    author_kind text NOT NULL,
    content text NOT NULL,
    diff text NOT NULL,
    reasoning text NOT NULL,
    case_ids bigint[] DEFAULT '{}'::bigint[] NOT NULL,
    replay jsonb,
    replayed_at timestamp with time zone,
    decided_by text,
    decided_at timestamp with time zone,
    decision_note text,
    approved_version integer,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT knowledge_proposals_approved CHECK (((state = 'approved'::text) = (approved_version IS NOT NULL))),
    CONSTRAINT knowledge_proposals_author_check CHECK ((author <> ''::text)),
    CONSTRAINT knowledge_proposals_author_kind_check CHECK ((author_kind = ANY (ARRAY['human'::text, 'model'::text]))),
    CONSTRAINT knowledge_proposals_decided CHECK (((state = 'open'::text) = (decided_by IS NULL))),
    CONSTRAINT knowledge_proposals_human_decides CHECK (((decided_by IS NULL) OR (decided_by !~~ 'reviewer:%'::text))),
    CONSTRAINT knowledge_proposals_not_own CHECK (((decided_by IS NULL) OR (state <> 'approved'::text) OR (decided_by <> author))),
    CONSTRAINT knowledge_proposals_reasoning_check CHECK (((char_length(reasoning) >= 1) AND (char_length(reasoning) <= 4000))),
    CONSTRAINT knowledge_proposals_state_check CHECK ((state = ANY (ARRAY['open'::text, 'approved'::text, 'rejected'::text])))
);

--
-- Name: knowledge_proposals_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.knowledge_proposals_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: knowledge_proposals_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.knowledge_proposals_id_seq OWNED BY public.knowledge_proposals.id;

--
-- Name: knowledge_versions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.knowledge_versions (
    document_id text NOT NULL,
    version integer NOT NULL,
    title text NOT NULL,
    category text NOT NULL,
    locations text[] NOT NULL,
    triggers text[] DEFAULT '{}'::text[] NOT NULL,
    action text NOT NULL,
    fallback text NOT NULL,
    requires text[] DEFAULT '{}'::text[] NOT NULL,
    timeout_ms integer,
    body text NOT NULL,
    author text NOT NULL,
    source text NOT NULL,
    source_file text,
    reason text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    search tsvector GENERATED ALWAYS AS (((setweight(to_tsvector('english'::regconfig, title), 'A'::"char") || setweight(to_tsvector('english'::regconfig, public.knowledge_phrase_words(triggers)), 'A'::"char")) || setweight(to_tsvector('english'::regconfig, body), 'B'::"char"))) STORED,
    match_text text GENERATED ALWAYS AS (lower(((title || ' '::text) || public.knowledge_phrase_words(triggers)))) STORED,
    proposal_id bigint,
    approved_by text,
    head_search tsvector GENERATED ALWAYS AS ((setweight(to_tsvector('english'::regconfig, title), 'A'::"char") || setweight(to_tsvector('english'::regconfig, public.knowledge_phrase_words(triggers)), 'A'::"char"))) STORED,
    CONSTRAINT knowledge_versions_action_check CHECK ((action = ANY (ARRAY['answer'::text, 'reset_trackman'::text, 'unlock_door'::text, 'none'::text]))),
    CONSTRAINT knowledge_versions_approval CHECK (((source = 'approval'::text) = (proposal_id IS NOT NULL))),
    CONSTRAINT knowledge_versions_body_check CHECK ((body <> ''::text)),
    CONSTRAINT knowledge_versions_category_check CHECK ((category = ANY (ARRAY['tech'::text, 'access'::text, 'booking'::text, 'faq'::text, 'emergency'::text]))),
    CONSTRAINT knowledge_versions_fallback_check CHECK ((fallback = ANY (ARRAY['escalate'::text, 'none'::text]))),
    CONSTRAINT knowledge_versions_import_file CHECK (((source = 'import'::text) = (source_file IS NOT NULL))),
    CONSTRAINT knowledge_versions_locations_check CHECK (((cardinality(locations) >= 1) AND ((locations = '{all}'::text[]) OR (NOT ('all'::text = ANY (locations)))))),
    CONSTRAINT knowledge_versions_requires_check CHECK ((requires <@ '{active_booking,bay_named,customer_confirmed}'::text[])),
    CONSTRAINT knowledge_versions_source_check CHECK ((source = ANY (ARRAY['import'::text, 'approval'::text, 'restore'::text]))),
    CONSTRAINT knowledge_versions_timeout_ms_check CHECK ((timeout_ms > 0)),
    CONSTRAINT knowledge_versions_title_check CHECK ((title <> ''::text)),
    CONSTRAINT knowledge_versions_version_check CHECK ((version >= 1))
);

--
-- Name: leader_lease; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.leader_lease (
    name text NOT NULL,
    owner text NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    by_lock boolean NOT NULL
);

--
-- Name: llm_cache; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.llm_cache (
    key text NOT NULL,
    intent jsonb NOT NULL,
    model text NOT NULL,
    source_call_id bigint NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    hits bigint DEFAULT 0 NOT NULL,
    last_hit_at timestamp with time zone
);

--
-- Name: llm_calls; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.llm_calls (
    id bigint NOT NULL,
    thread_id bigint NOT NULL,
    location text NOT NULL,
    purpose text DEFAULT 'route'::text NOT NULL,
    model text NOT NULL,
    tier text NOT NULL,
    prompt_version text NOT NULL,
    prompt_hash text NOT NULL,
    knowledge_version text NOT NULL,
    cache_key text NOT NULL,
    last_message_id bigint NOT NULL,
    state text DEFAULT 'pending'::text NOT NULL,
    outcome text,
    guard text,
    reserved_tokens bigint DEFAULT 0 NOT NULL,
    budget_day date,
    tokens_in bigint DEFAULT 0 NOT NULL,
    tokens_out bigint DEFAULT 0 NOT NULL,
    cost_usd numeric(14,6) DEFAULT 0 NOT NULL,
    latency_ms integer,
    attempts integer DEFAULT 0 NOT NULL,
    http_status integer,
    request_id text,
    cache_hit boolean DEFAULT false NOT NULL,
    request jsonb NOT NULL,
    response jsonb,
    error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    finished_at timestamp with time zone,
    CONSTRAINT llm_calls_done CHECK (((state = 'done'::text) = (outcome IS NOT NULL))),
    CONSTRAINT llm_calls_outcome_check CHECK ((outcome = ANY (ARRAY['ok'::text, 'cache_hit'::text, 'timeout'::text, 'unavailable'::text, 'rate_limited'::text, 'quota'::text, 'refused'::text, 'malformed'::text, 'bad_request'::text, 'abandoned'::text, 'superseded'::text]))),
    CONSTRAINT llm_calls_reserved_tokens_check CHECK ((reserved_tokens >= 0)),
    CONSTRAINT llm_calls_state_check CHECK ((state = ANY (ARRAY['pending'::text, 'done'::text]))),
    CONSTRAINT llm_calls_tier_check CHECK ((tier = ANY (ARRAY['cheap'::text, 'strong'::text]))),
    CONSTRAINT llm_calls_tokens_in_check CHECK ((tokens_in >= 0)),
    CONSTRAINT llm_calls_tokens_out_check CHECK ((tokens_out >= 0))
);

--
-- Name: llm_calls_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.llm_calls_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: llm_calls_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.llm_calls_id_seq OWNED BY public.llm_calls.id;

--
-- Name: llm_outages; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.llm_outages (
    id bigint NOT NULL,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    ended_at timestamp with time zone,
    reason text NOT NULL,
    last_probe_at timestamp with time zone DEFAULT now() NOT NULL,
    calls_failed bigint DEFAULT 1 NOT NULL,
    texts_escalated bigint DEFAULT 0 NOT NULL
);

--
-- Name: llm_outages_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.llm_outages_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: llm_outages_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.llm_outages_id_seq OWNED BY public.llm_outages.id;

--
-- Name: messages_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.messages_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: messages_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.messages_id_seq OWNED BY public.messages.id;

--
-- Name: periodic_jobs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.periodic_jobs (
    name text NOT NULL,
    last_run_at timestamp with time zone NOT NULL
);

--
-- Name: policy_versions_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.policy_versions_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: policy_versions_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.policy_versions_id_seq OWNED BY public.policy_versions.id;

--
-- Name: reviewer_outages; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.reviewer_outages (
    id bigint NOT NULL,
    reason text NOT NULL,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    ended_at timestamp with time zone,
    deferrals integer DEFAULT 1 NOT NULL
);

--
-- Name: reviewer_outages_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.reviewer_outages_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: reviewer_outages_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.reviewer_outages_id_seq OWNED BY public.reviewer_outages.id;

--
-- Name: reviewer_runs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.reviewer_runs (
    id bigint NOT NULL,
    day date NOT NULL,
    outcome text NOT NULL,
    called boolean NOT NULL,
    model text NOT NULL,
    cases integer DEFAULT 0 NOT NULL,
    proposals integer DEFAULT 0 NOT NULL,
    conflicts integer DEFAULT 0 NOT NULL,
    tokens_in bigint DEFAULT 0 NOT NULL,
    tokens_out bigint DEFAULT 0 NOT NULL,
    latency_ms integer,
    detail text,
    response text,
    at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT reviewer_runs_outcome_check CHECK ((outcome = ANY (ARRAY['running'::text, 'ok'::text, 'nothing_new'::text, 'unavailable'::text, 'over_budget'::text, 'garbage'::text])))
);

--
-- Name: reviewer_runs_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.reviewer_runs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: reviewer_runs_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.reviewer_runs_id_seq OWNED BY public.reviewer_runs.id;

--
-- Name: schema_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: sessions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sessions (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    token_hash text NOT NULL,
    csrf text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    revoked_at timestamp with time zone,
    last_seen_at timestamp with time zone NOT NULL,
    CONSTRAINT sessions_check CHECK ((expires_at > created_at)),
    CONSTRAINT sessions_csrf_check CHECK ((length(csrf) = 43)),
    CONSTRAINT sessions_token_hash_check CHECK ((token_hash ~ '^[0-9a-f]{64}$'::text))
);

--
-- Name: sessions_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.sessions_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: sessions_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.sessions_id_seq OWNED BY public.sessions.id;

--
-- Name: suggestions_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.suggestions_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: suggestions_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.suggestions_id_seq OWNED BY public.suggestions.id;

--
-- Name: threads_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.threads_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: threads_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.threads_id_seq OWNED BY public.threads.id;

--
-- Name: toggles; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.toggles (
    name text NOT NULL,
    enabled boolean NOT NULL,
    changed_by text NOT NULL,
    changed_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT toggles_name_check CHECK ((name = ANY (ARRAY['auto_send'::text, 'auto_execute'::text])))
);

--
-- Name: token_usage; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.token_usage (
    location text NOT NULL,
    day date NOT NULL,
    tokens bigint DEFAULT 0 NOT NULL,
    reserved bigint DEFAULT 0 NOT NULL,
    CONSTRAINT token_usage_reserved_check CHECK ((reserved >= 0)),
    CONSTRAINT token_usage_tokens_check CHECK ((tokens >= 0))
);

--
-- Name: transitions_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.transitions_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: transitions_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.transitions_id_seq OWNED BY public.transitions.id;

--
-- Name: users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.users (
    id bigint NOT NULL,
    name text NOT NULL,
    role text NOT NULL,
    password_hash text NOT NULL,
    disabled boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    last_login_at timestamp with time zone,
    CONSTRAINT users_name_check CHECK ((name ~ '^[a-z0-9][a-z0-9._-]{0,31}$'::text)),
    CONSTRAINT users_password_hash_check CHECK ((password_hash ~~ '$argon2id$%'::text)),
    CONSTRAINT users_role_check CHECK ((role = ANY (ARRAY['operator'::text, 'admin'::text])))
);

--
-- Name: users_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.users_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: users_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.users_id_seq OWNED BY public.users.id;

--
-- Name: actions id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.actions ALTER COLUMN id SET DEFAULT nextval('public.actions_id_seq'::regclass);

--
-- Name: cases id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cases ALTER COLUMN id SET DEFAULT nextval('public.cases_id_seq'::regclass);

--
-- Name: control_events id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.control_events ALTER COLUMN id SET DEFAULT nextval('public.control_events_id_seq'::regclass);

--
-- Name: fake_facility_calls id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.fake_facility_calls ALTER COLUMN id SET DEFAULT nextval('public.fake_facility_calls_id_seq'::regclass);

--
-- Name: feedback id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feedback ALTER COLUMN id SET DEFAULT nextval('public.feedback_id_seq'::regclass);

--
-- Name: feedback_history id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feedback_history ALTER COLUMN id SET DEFAULT nextval('public.feedback_history_id_seq'::regclass);

--
-- Name: jobs id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.jobs ALTER COLUMN id SET DEFAULT nextval('public.jobs_id_seq'::regclass);

--
-- Name: knowledge_conflicts id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.knowledge_conflicts ALTER COLUMN id SET DEFAULT nextval('public.knowledge_conflicts_id_seq'::regclass);

--
-- Name: knowledge_events id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.knowledge_events ALTER COLUMN id SET DEFAULT nextval('public.knowledge_events_id_seq'::regclass);

--
-- Name: knowledge_proposals id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.knowledge_proposals ALTER COLUMN id SET DEFAULT nextval('public.knowledge_proposals_id_seq'::regclass);

--
-- Name: llm_calls id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.llm_calls ALTER COLUMN id SET DEFAULT nextval('public.llm_calls_id_seq'::regclass);

--
-- Name: llm_outages id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.llm_outages ALTER COLUMN id SET DEFAULT nextval('public.llm_outages_id_seq'::regclass);

--
-- Name: messages id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.messages ALTER COLUMN id SET DEFAULT nextval('public.messages_id_seq'::regclass);

--
-- Name: policy_versions id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.policy_versions ALTER COLUMN id SET DEFAULT nextval('public.policy_versions_id_seq'::regclass);

--
-- Name: reviewer_outages id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.reviewer_outages ALTER COLUMN id SET DEFAULT nextval('public.reviewer_outages_id_seq'::regclass);

--
-- Name: reviewer_runs id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.reviewer_runs ALTER COLUMN id SET DEFAULT nextval('public.reviewer_runs_id_seq'::regclass);

--
-- Name: sessions id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sessions ALTER COLUMN id SET DEFAULT nextval('public.sessions_id_seq'::regclass);

--
-- Name: suggestions id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.suggestions ALTER COLUMN id SET DEFAULT nextval('public.suggestions_id_seq'::regclass);

--
-- Name: threads id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.threads ALTER COLUMN id SET DEFAULT nextval('public.threads_id_seq'::regclass);

--
-- Name: transitions id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.transitions ALTER COLUMN id SET DEFAULT nextval('public.transitions_id_seq'::regclass);

--
-- Name: users id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users ALTER COLUMN id SET DEFAULT nextval('public.users_id_seq'::regclass);

--
-- Name: actions actions_idempotency_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.actions
    ADD CONSTRAINT actions_idempotency_key_key UNIQUE (idempotency_key);

--
-- Name: actions actions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.actions
    ADD CONSTRAINT actions_pkey PRIMARY KEY (id);

--
-- Name: agent_devices agent_devices_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agent_devices
    ADD CONSTRAINT agent_devices_pkey PRIMARY KEY (device_id);

--
-- Name: agent_reports agent_reports_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agent_reports
    ADD CONSTRAINT agent_reports_pkey PRIMARY KEY (command_id);

--
-- Name: api_idempotency_keys api_idempotency_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_idempotency_keys
    ADD CONSTRAINT api_idempotency_keys_pkey PRIMARY KEY (principal, key);

--
-- Name: bookings bookings_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.bookings
    ADD CONSTRAINT bookings_pkey PRIMARY KEY (id);

--
-- Name: cases cases_feedback_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cases
    ADD CONSTRAINT cases_feedback_id_key UNIQUE (feedback_id);

--
-- Name: cases cases_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cases
    ADD CONSTRAINT cases_pkey PRIMARY KEY (id);

--
-- Name: control_events control_events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.control_events
    ADD CONSTRAINT control_events_pkey PRIMARY KEY (id);

--
-- Name: emergency_stops emergency_stops_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.emergency_stops
    ADD CONSTRAINT emergency_stops_pkey PRIMARY KEY (scope);

--
-- Name: fake_facility_calls fake_facility_calls_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.fake_facility_calls
    ADD CONSTRAINT fake_facility_calls_pkey PRIMARY KEY (id);

--
-- Name: fake_facility_faults fake_facility_faults_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.fake_facility_faults
    ADD CONSTRAINT fake_facility_faults_pkey PRIMARY KEY (device);

--
-- Name: feedback feedback_action_id_author_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feedback
    ADD CONSTRAINT feedback_action_id_author_key UNIQUE (action_id, author);

--
-- Name: feedback_history feedback_history_feedback_id_version_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feedback_history
    ADD CONSTRAINT feedback_history_feedback_id_version_key UNIQUE (feedback_id, version);

--
-- Name: feedback_history feedback_history_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feedback_history
    ADD CONSTRAINT feedback_history_pkey PRIMARY KEY (id);

--
-- Name: feedback feedback_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feedback
    ADD CONSTRAINT feedback_pkey PRIMARY KEY (id);

--
-- Name: jobs jobs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.jobs
    ADD CONSTRAINT jobs_pkey PRIMARY KEY (id);

--
-- Name: knowledge_conflicts knowledge_conflicts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.knowledge_conflicts
    ADD CONSTRAINT knowledge_conflicts_pkey PRIMARY KEY (id);

--
-- Name: knowledge_documents knowledge_documents_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.knowledge_documents
    ADD CONSTRAINT knowledge_documents_pkey PRIMARY KEY (id);

--
-- Name: knowledge_events knowledge_events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.knowledge_events
    ADD CONSTRAINT knowledge_events_pkey PRIMARY KEY (id);

--
-- Name: knowledge_proposals knowledge_proposals_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.knowledge_proposals
    ADD CONSTRAINT knowledge_proposals_pkey PRIMARY KEY (id);

--
-- Name: knowledge_versions knowledge_versions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.knowledge_versions
    ADD CONSTRAINT knowledge_versions_pkey PRIMARY KEY (document_id, version);

--
-- Name: leader_lease leader_lease_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leader_lease
    ADD CONSTRAINT leader_lease_pkey PRIMARY KEY (name);

--
-- Name: llm_cache llm_cache_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.llm_cache
    ADD CONSTRAINT llm_cache_pkey PRIMARY KEY (key);

--
-- Name: llm_calls llm_calls_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.llm_calls
    ADD CONSTRAINT llm_calls_pkey PRIMARY KEY (id);

--
-- Name: llm_outages llm_outages_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.llm_outages
    ADD CONSTRAINT llm_outages_pkey PRIMARY KEY (id);

--
-- Name: messages messages_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_pkey PRIMARY KEY (id);

--
-- Name: periodic_jobs periodic_jobs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.periodic_jobs
    ADD CONSTRAINT periodic_jobs_pkey PRIMARY KEY (name);

--
-- Name: policy_versions policy_versions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.policy_versions
    ADD CONSTRAINT policy_versions_pkey PRIMARY KEY (id);

--
-- Name: reviewer_outages reviewer_outages_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.reviewer_outages
    ADD CONSTRAINT reviewer_outages_pkey PRIMARY KEY (id);

--
-- Name: reviewer_runs reviewer_runs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.reviewer_runs
    ADD CONSTRAINT reviewer_runs_pkey PRIMARY KEY (id);

--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);

--
-- Name: sessions sessions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);

--
-- Name: sessions sessions_token_hash_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_token_hash_key UNIQUE (token_hash);

--
-- Name: suggestions suggestions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.suggestions
    ADD CONSTRAINT suggestions_pkey PRIMARY KEY (id);

--
-- Name: threads threads_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.threads
    ADD CONSTRAINT threads_pkey PRIMARY KEY (id);

--
-- Name: toggles toggles_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.toggles
    ADD CONSTRAINT toggles_pkey PRIMARY KEY (name);

--
-- Name: token_usage token_usage_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.token_usage
    ADD CONSTRAINT token_usage_pkey PRIMARY KEY (location, day);

--
-- Name: transitions transitions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.transitions
    ADD CONSTRAINT transitions_pkey PRIMARY KEY (id);

--
-- Name: users users_name_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_name_key UNIQUE (name);

--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

--
-- Name: actions_asset_started_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX actions_asset_started_idx ON public.actions USING btree (((target ->> 'device_id'::text)), started_at) WHERE (started_at IS NOT NULL);

--
-- Name: actions_asset_unstarted_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX actions_asset_unstarted_idx ON public.actions USING btree (((target ->> 'device_id'::text))) WHERE ((started_at IS NULL) AND (state <> ALL (ARRAY['cancelled'::text, 'rejected'::text, 'escalated'::text])));

--
-- Name: actions_booking_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX actions_booking_idx ON public.actions USING btree (booking_id) WHERE (booking_id IS NOT NULL);

--
-- Name: actions_target_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX actions_target_idx ON public.actions USING btree (kind, ((target ->> 'device_id'::text)), created_at);

--
-- Name: actions_thread_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX actions_thread_idx ON public.actions USING btree (thread_id, id);

--
-- Name: agent_reports_action_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX agent_reports_action_idx ON public.agent_reports USING btree (action_key);

--
-- Name: api_idempotency_keys_created_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX api_idempotency_keys_created_idx ON public.api_idempotency_keys USING btree (created_at);

--
-- Name: bookings_customer_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX bookings_customer_idx ON public.bookings USING btree (customer_phone, location, start_at);

--
-- Name: cases_action_once_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX cases_action_once_idx ON public.cases USING btree (action_id) WHERE (origin = 'action'::text);

--
-- Name: cases_created_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX cases_created_idx ON public.cases USING btree (created_at, id);

--
-- Name: cases_state_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX cases_state_idx ON public.cases USING btree (state, id);

--
-- Name: feedback_thread_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX feedback_thread_idx ON public.feedback USING btree (thread_id, id);

--
-- Name: jobs_dead_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX jobs_dead_idx ON public.jobs USING btree (finished_at) WHERE (state = 'dead'::text);

--
-- Name: jobs_fetch_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX jobs_fetch_idx ON public.jobs USING btree (queue, priority, run_at, id) WHERE (state = 'available'::text);

--
-- Name: jobs_lease_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX jobs_lease_idx ON public.jobs USING btree (lease_expires_at) WHERE (state = 'running'::text);

--
-- Name: jobs_scheduled_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX jobs_scheduled_idx ON public.jobs USING btree (run_at) WHERE (state = 'scheduled'::text);

--
-- Name: jobs_unique_key_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX jobs_unique_key_idx ON public.jobs USING btree (unique_key) WHERE ((unique_key IS NOT NULL) AND (state = ANY (ARRAY['scheduled'::text, 'available'::text])));

--
-- Name: knowledge_conflicts_open_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX knowledge_conflicts_open_idx ON public.knowledge_conflicts USING btree (documents) WHERE (state = 'open'::text);

--
-- Name: knowledge_events_document_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX knowledge_events_document_idx ON public.knowledge_events USING btree (document_id, id);

--
-- Name: knowledge_proposals_open_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX knowledge_proposals_open_idx ON public.knowledge_proposals USING btree (document_id) WHERE (state = 'open'::text);

--
-- Name: knowledge_proposals_state_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX knowledge_proposals_state_idx ON public.knowledge_proposals USING btree (state, id);

--
-- Name: knowledge_versions_head_search_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX knowledge_versions_head_search_idx ON public.knowledge_versions USING gin (locations, head_search) WITH (fastupdate=off);

--
-- Name: knowledge_versions_match_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX knowledge_versions_match_idx ON public.knowledge_versions USING gin (match_text public.gin_trgm_ops) WITH (fastupdate=off);

--
-- Name: knowledge_versions_search_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX knowledge_versions_search_idx ON public.knowledge_versions USING gin (search) WITH (fastupdate=off);

--
-- Name: llm_cache_expires_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX llm_cache_expires_idx ON public.llm_cache USING btree (expires_at);

--
-- Name: llm_calls_created_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX llm_calls_created_idx ON public.llm_calls USING btree (created_at);

--
-- Name: llm_calls_location_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX llm_calls_location_idx ON public.llm_calls USING btree (location, created_at);

--
-- Name: llm_calls_pending_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX llm_calls_pending_idx ON public.llm_calls USING btree (thread_id) WHERE (state = 'pending'::text);

--
-- Name: llm_calls_thread_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX llm_calls_thread_idx ON public.llm_calls USING btree (thread_id, id);

--
-- Name: llm_outages_one_open; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX llm_outages_one_open ON public.llm_outages USING btree ((true)) WHERE (ended_at IS NULL);

--
-- Name: messages_external_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX messages_external_id_idx ON public.messages USING btree (source, from_phone, external_id) WHERE (external_id IS NOT NULL);

--
-- Name: messages_received_brin; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX messages_received_brin ON public.messages USING brin (received_at);

--
-- Name: messages_thread_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX messages_thread_idx ON public.messages USING btree (thread_id, id);

--
-- Name: policy_versions_one_active; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX policy_versions_one_active ON public.policy_versions USING btree ((true)) WHERE (state = 'active'::text);

--
-- Name: reviewer_outages_one_open; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX reviewer_outages_one_open ON public.reviewer_outages USING btree ((true)) WHERE (ended_at IS NULL);

--
-- Name: reviewer_runs_day_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX reviewer_runs_day_idx ON public.reviewer_runs USING btree (day);

--
-- Name: reviewer_runs_one_running; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX reviewer_runs_one_running ON public.reviewer_runs USING btree ((true)) WHERE (outcome = 'running'::text);

--
-- Name: sessions_expires_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX sessions_expires_idx ON public.sessions USING btree (expires_at);

--
-- Name: sessions_user_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX sessions_user_idx ON public.sessions USING btree (user_id) WHERE (revoked_at IS NULL);

--
-- Name: suggestions_pending_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX suggestions_pending_idx ON public.suggestions USING btree (id) WHERE (state = 'pending'::text);

--
-- Name: threads_created_brin; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX threads_created_brin ON public.threads USING brin (created_at);

--
-- Name: threads_escalated_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX threads_escalated_idx ON public.threads USING btree (priority, escalated_at, id) WHERE (state = 'escalated'::text);

--
-- Name: threads_location_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX threads_location_idx ON public.threads USING btree (location, id);

--
-- Name: threads_open_conversation_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX threads_open_conversation_idx ON public.threads USING btree (customer_phone, facility_line) WHERE (state <> 'closed'::text);

--
-- Name: threads_state_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX threads_state_idx ON public.threads USING btree (state, id);

--
-- Name: transitions_at_brin; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX transitions_at_brin ON public.transitions USING brin (at);

--
-- Name: transitions_entity_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX transitions_entity_idx ON public.transitions USING btree (entity, entity_id, id);

--
-- Name: transitions_tx_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX transitions_tx_idx ON public.transitions USING btree (tx, id);

--
-- Name: control_events control_events_notify; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER control_events_notify AFTER INSERT ON public.control_events FOR EACH STATEMENT EXECUTE FUNCTION public.clubos_notify_events('controls');

--
-- Name: feedback_history feedback_history_no_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER feedback_history_no_update BEFORE DELETE OR UPDATE ON public.feedback_history FOR EACH ROW EXECUTE FUNCTION public.feedback_history_append_only();

--
-- Name: knowledge_documents knowledge_documents_notify; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER knowledge_documents_notify AFTER INSERT OR UPDATE OF active_version ON public.knowledge_documents FOR EACH STATEMENT EXECUTE FUNCTION public.knowledge_documents_changed();

--
-- Name: knowledge_events knowledge_events_no_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER knowledge_events_no_update BEFORE DELETE OR UPDATE ON public.knowledge_events FOR EACH ROW EXECUTE FUNCTION public.knowledge_versions_append_only();

--
-- Name: knowledge_versions knowledge_versions_no_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER knowledge_versions_no_truncate BEFORE TRUNCATE ON public.knowledge_versions FOR EACH STATEMENT EXECUTE FUNCTION public.knowledge_versions_append_only();

--
-- Name: knowledge_versions knowledge_versions_no_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER knowledge_versions_no_update BEFORE DELETE OR UPDATE ON public.knowledge_versions FOR EACH ROW EXECUTE FUNCTION public.knowledge_versions_append_only();

--
-- Name: transitions transitions_no_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER transitions_no_truncate BEFORE TRUNCATE ON public.transitions FOR EACH STATEMENT EXECUTE FUNCTION public.transitions_append_only();

--
-- Name: transitions transitions_no_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER transitions_no_update BEFORE DELETE OR UPDATE ON public.transitions FOR EACH ROW EXECUTE FUNCTION public.transitions_append_only();

--
-- Name: transitions transitions_notify; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER transitions_notify AFTER INSERT ON public.transitions FOR EACH STATEMENT EXECUTE FUNCTION public.clubos_notify_events('history');

--
-- Name: actions actions_thread_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.actions
    ADD CONSTRAINT actions_thread_id_fkey FOREIGN KEY (thread_id) REFERENCES public.threads(id);

--
-- Name: cases cases_action_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cases
    ADD CONSTRAINT cases_action_id_fkey FOREIGN KEY (action_id) REFERENCES public.actions(id);

--
-- Name: cases cases_feedback_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cases
    ADD CONSTRAINT cases_feedback_id_fkey FOREIGN KEY (feedback_id) REFERENCES public.feedback(id);

--
-- Name: cases cases_message_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cases
    ADD CONSTRAINT cases_message_id_fkey FOREIGN KEY (message_id) REFERENCES public.messages(id);

--
-- Name: cases cases_proposal_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cases
    ADD CONSTRAINT cases_proposal_id_fkey FOREIGN KEY (proposal_id) REFERENCES public.knowledge_proposals(id);

--
-- Name: cases cases_thread_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cases
    ADD CONSTRAINT cases_thread_id_fkey FOREIGN KEY (thread_id) REFERENCES public.threads(id);

--
-- Name: feedback feedback_action_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feedback
    ADD CONSTRAINT feedback_action_id_fkey FOREIGN KEY (action_id) REFERENCES public.actions(id);

--
-- Name: feedback_history feedback_history_action_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feedback_history
    ADD CONSTRAINT feedback_history_action_id_fkey FOREIGN KEY (action_id) REFERENCES public.actions(id);

--
-- Name: feedback_history feedback_history_feedback_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feedback_history
    ADD CONSTRAINT feedback_history_feedback_id_fkey FOREIGN KEY (feedback_id) REFERENCES public.feedback(id);

--
-- Name: feedback_history feedback_history_message_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feedback_history
    ADD CONSTRAINT feedback_history_message_id_fkey FOREIGN KEY (message_id) REFERENCES public.messages(id);

--
-- Name: feedback feedback_message_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feedback
    ADD CONSTRAINT feedback_message_id_fkey FOREIGN KEY (message_id) REFERENCES public.messages(id);

--
-- Name: feedback feedback_thread_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.feedback
    ADD CONSTRAINT feedback_thread_id_fkey FOREIGN KEY (thread_id) REFERENCES public.threads(id);

--
-- Name: knowledge_documents knowledge_documents_active_fk; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.knowledge_documents
    ADD CONSTRAINT knowledge_documents_active_fk FOREIGN KEY (id, active_version) REFERENCES public.knowledge_versions(document_id, version) DEFERRABLE INITIALLY DEFERRED;

--
-- Name: knowledge_events knowledge_events_proposal_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.knowledge_events
    ADD CONSTRAINT knowledge_events_proposal_id_fkey FOREIGN KEY (proposal_id) REFERENCES public.knowledge_proposals(id);

--
-- Name: knowledge_proposals knowledge_proposals_document_id_base_version_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.knowledge_proposals
    ADD CONSTRAINT knowledge_proposals_document_id_base_version_fkey FOREIGN KEY (document_id, base_version) REFERENCES public.knowledge_versions(document_id, version);

--
-- Name: knowledge_proposals knowledge_proposals_document_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.knowledge_proposals
    ADD CONSTRAINT knowledge_proposals_document_id_fkey FOREIGN KEY (document_id) REFERENCES public.knowledge_documents(id);

--
-- Name: knowledge_versions knowledge_versions_document_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.knowledge_versions
    ADD CONSTRAINT knowledge_versions_document_id_fkey FOREIGN KEY (document_id) REFERENCES public.knowledge_documents(id);

--
-- Name: knowledge_versions knowledge_versions_proposal_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.knowledge_versions
    ADD CONSTRAINT knowledge_versions_proposal_id_fkey FOREIGN KEY (proposal_id) REFERENCES public.knowledge_proposals(id);

--
-- Name: llm_cache llm_cache_source_call_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.llm_cache
    ADD CONSTRAINT llm_cache_source_call_id_fkey FOREIGN KEY (source_call_id) REFERENCES public.llm_calls(id);

--
-- Name: llm_calls llm_calls_thread_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.llm_calls
    ADD CONSTRAINT llm_calls_thread_id_fkey FOREIGN KEY (thread_id) REFERENCES public.threads(id);

--
-- Name: messages messages_thread_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_thread_id_fkey FOREIGN KEY (thread_id) REFERENCES public.threads(id);

--
-- Name: policy_versions policy_versions_based_on_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.policy_versions
    ADD CONSTRAINT policy_versions_based_on_fkey FOREIGN KEY (based_on) REFERENCES public.policy_versions(id);

--
-- Name: sessions sessions_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id);

--
-- Name: suggestions suggestions_action_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.suggestions
    ADD CONSTRAINT suggestions_action_id_fkey FOREIGN KEY (action_id) REFERENCES public.actions(id);

--
-- Name: suggestions suggestions_thread_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.suggestions
    ADD CONSTRAINT suggestions_thread_id_fkey FOREIGN KEY (thread_id) REFERENCES public.threads(id);

--
-- PostgreSQL database dump complete
--


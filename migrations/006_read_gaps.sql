-- Missing interval reads, one row per gap, with the reason:
--   DISCONNECTED  the relay was OPEN at the read before the gap (tusbung or a
--                 power-limit trip): no supply by cause, nothing to estimate.
--   OUTAGE        a LAST_GASP or POWER_RESTORE of the meter falls in the gap, or
--                 an outage of its gardu or feeder overlaps it: the meter was dark.
--   DATA_GAP      none of these: reads were lost; only these are real unknowns.
-- A gap is two consecutive INTERVAL reads further apart than the later read's
-- interval_s. Duplicated reads are 0 s apart and never make a gap, so no FINAL.
-- Billing needs no reason to be right (a register equal on both sides of a
-- boundary is exact, see the billing rule); this view tells analysts why.
-- It scans the reads of every meter: filter by meter_id in an outer query.
CREATE VIEW IF NOT EXISTS {{db}}.read_gaps AS
SELECT
    meter_id,
    gardu_id,
    toDateTime(gap_start_s) AS gap_start,
    toDateTime(gap_end_s) AS gap_end,
    gap_end_s - gap_start_s AS gap_s,
    toUInt32(intDiv(gap_end_s - gap_start_s, interval_s) - 1) AS missing_reads,
    wh_before,
    wh_after,
    relay_before,
    multiIf(
        relay_before = 'OPEN', 'DISCONNECTED',
        arrayExists(t -> t >= gap_start_s AND t <= gap_end_s, meter_events)
            OR arrayExists((s, e) -> s <= gap_end_s AND e >= gap_start_s, gardu_starts, gardu_ends)
            OR arrayExists((s, e) -> s <= gap_end_s AND e >= gap_start_s, feeder_starts, feeder_ends), 'OUTAGE',
        'DATA_GAP') AS reason
FROM
(
    SELECT *
    FROM
    (
        SELECT *
        FROM
        (
            SELECT *
            FROM
            (
                SELECT meter_id, gardu_id, g.1.1 AS gap_start_s, g.2.1 AS gap_end_s, g.2.4 AS interval_s, g.1.2 AS wh_before, g.2.2 AS wh_after, g.1.3 AS relay_before
                FROM
                (
                    SELECT meter_id, any(gardu_id) AS gardu_id,
                        arraySort(x -> x.1, groupArray((toUInt32(read_at), energy_import_wh, toString(relay), interval_s))) AS rs
                    FROM {{db}}.reads
                    WHERE kind = 'INTERVAL'
                    GROUP BY meter_id
                )
                ARRAY JOIN arrayFilter(p -> p.2.4 > 0 AND p.2.1 - p.1.1 > p.2.4, arrayMap(i -> (rs[i], rs[i + 1]), arrayEnumerate(arrayPopBack(rs)))) AS g
            ) AS gaps
            ANY LEFT JOIN
            (
                SELECT meter_id, groupArray(toUInt32(occurred_at)) AS meter_events
                FROM {{db}}.events
                WHERE type IN ('LAST_GASP', 'POWER_RESTORE')
                GROUP BY meter_id
            ) AS meter_evidence USING meter_id
        ) AS with_meter
        ANY LEFT JOIN
        (
            SELECT assumeNotNull(gardu_id) AS gardu_id, groupArray(toUInt32(started_at)) AS gardu_starts, groupArray(toUInt32(ifNull(restored_at, now()))) AS gardu_ends
            FROM {{db}}.outages_latest
            WHERE scope = 'GARDU' AND isNotNull(gardu_id)
            GROUP BY gardu_id
        ) AS gardu_evidence USING gardu_id
    ) AS with_gardu
    ANY LEFT JOIN
    (
        SELECT meter_id, feeder_id, feeder_starts, feeder_ends
        FROM (SELECT meter_id, feeder_id FROM {{db}}.meters_latest) AS meter_feeders
        ANY INNER JOIN
        (
            SELECT feeder_id, groupArray(toUInt32(started_at)) AS feeder_starts, groupArray(toUInt32(ifNull(restored_at, now()))) AS feeder_ends
            FROM {{db}}.outages_latest
            WHERE scope = 'FEEDER'
            GROUP BY feeder_id
        ) AS feeder_outages USING feeder_id
    ) AS feeder_evidence USING meter_id
) AS gap_evidence;

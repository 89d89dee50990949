-- The thresholds of the outreach marts, each written once: one row (the whole table). What flags or says "N days" reads it.
-- hari_kerja_alat_rusak: working days (mart.kalender) without a KECAMATAN recording from which
-- mart.kecamatan_service sets diduga_alat_rusak; hari_diam_alat: days without a loaded row from which
-- mart.device_activity sets diam.
with final as (
    select
        cast(5 as integer) as hari_kerja_alat_rusak,
        cast(7 as integer) as hari_diam_alat
)

select * from final

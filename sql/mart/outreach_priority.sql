-- Where the jemput bola team should go: one row per as-of date (the dates of mart.backlog) x desa, ranked 1..N at each date within each kab/kota (each kab/kota's team ranks its own desa).
-- Order: desa with an open request first, then larger belum_rekam, then longer since the last jemput bola visit
-- (never visited counts as longer than any number), then kode_desa.
with backlog as (
    select as_of_date, kode_kabupaten, kode_kecamatan, nama_kecamatan, kode_desa, nama_desa, belum_rekam, pct_rekam
    from mart.backlog
    where as_of_date >= (select first_date from core.build_scope)   -- the dates this build rebuilds
),

visits as (
    select kode_desa, tanggal from core.jemput_bola_visit
),

last_visit as (
    select backlog.*, visits.tanggal as jemput_bola_terakhir
    from backlog
    asof left join visits
        on visits.kode_desa = backlog.kode_desa and visits.tanggal <= backlog.as_of_date
),

open_requests as (
    -- open at D: registered on or before D, and no jemput bola row of the desa from registration to D
    select backlog.as_of_date, backlog.kode_desa,
           count(*) as permohonan_terbuka, min(requests.tanggal_daftar) as permohonan_tertua
    from backlog
    join mart.outreach_requests as requests
        on requests.kode_desa = backlog.kode_desa
       and requests.tanggal_daftar <= backlog.as_of_date
       and (requests.tanggal_dilayani is null or requests.tanggal_dilayani > backlog.as_of_date)
    group by all
),

combined as (
    select
        last_visit.*,
        last_visit.as_of_date - last_visit.jemput_bola_terakhir      as hari_sejak_jemput_bola,
        coalesce(open_requests.permohonan_terbuka, 0)                as permohonan_terbuka,
        open_requests.permohonan_tertua
    from last_visit
    left join open_requests
        on open_requests.as_of_date = last_visit.as_of_date and open_requests.kode_desa = last_visit.kode_desa
),

ranked as (
    select
        *,
        row_number() over (
            partition by as_of_date, kode_kabupaten
            order by (permohonan_terbuka > 0) desc, belum_rekam desc, hari_sejak_jemput_bola desc nulls first, kode_desa
        ) as peringkat
    from combined
),

final as (
    select
        cast(as_of_date as date)                 as as_of_date,
        cast(peringkat as integer)               as peringkat,
        kode_kabupaten,
        kode_kecamatan,
        nama_kecamatan,
        kode_desa,
        nama_desa,
        cast(belum_rekam as bigint)              as belum_rekam,
        cast(pct_rekam as double)                as pct_rekam,
        cast(jemput_bola_terakhir as date)       as jemput_bola_terakhir,
        cast(hari_sejak_jemput_bola as integer)  as hari_sejak_jemput_bola,
        cast(permohonan_terbuka as integer)      as permohonan_terbuka,
        cast(permohonan_tertua as date)          as permohonan_tertua,
        -- why the desa is where it is, in Indonesian (the report and the artifact show it)
        concat_ws('; ',
            case when permohonan_terbuka > 0 then
                'permohonan desa menunggu sejak ' || strftime(permohonan_tertua, '%Y-%m-%d')
                || ' (' || permohonan_terbuka || ' surat)' end,
            'belum rekam ' || replace(format('{:,}', belum_rekam), ',', '.'),   -- Indonesian: 1.234
            coalesce('jemput bola terakhir ' || hari_sejak_jemput_bola || ' hari lalu',
                     'belum pernah dikunjungi jemput bola')
        )                                        as alasan
    from ranked
)

select * from final order by as_of_date, kode_kabupaten, peringkat

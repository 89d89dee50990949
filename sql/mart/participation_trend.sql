-- Participation per kecamatan: one row per tanggal x kecamatan (every kecamatan on every date, zeros included).
-- Pace (laju_rekam_7h): mean daily new wajib-KTP first recordings over tanggal-6..tanggal (days inside the range);
-- proyeksi_tuntas = tanggal + ceil(belum_rekam / laju_rekam_7h) days; tanggal itself when belum_rekam <= 0; null when the pace is 0.
with scope as (
    -- the dates this build rebuilds (core.build_scope, written by the model runner: every date in a full build);
    -- the pace of a date reads the six before it
    select first_date, first_date - 6 as window_start from core.build_scope
),

spine as (
    select tanggal from core.date_spine where tanggal >= (select window_start from scope)
),

grid as (
    select spine.tanggal, kecamatan.kode_kabupaten, kecamatan.kode_kecamatan, kecamatan.nama_kecamatan
    from spine
    cross join core.kecamatan as kecamatan
),

baru as (
    select
        tanggal_rekam as tanggal,
        kode_kecamatan,
        count(*)                                             as rekam_baru,
        count(*) filter (where wajib_ktp)                    as baru_wajib,
        count(*) filter (where lokasi_rekam = 'DINAS')       as rekam_dinas,
        count(*) filter (where lokasi_rekam = 'KECAMATAN')   as rekam_kecamatan,
        count(*) filter (where lokasi_rekam = 'JEMPUT_BOLA') as rekam_jemput_bola,
        count(*) filter (where lokasi_rekam = 'SEKOLAH')     as rekam_sekolah,
        count(*) filter (where lokasi_rekam = 'LAINNYA')     as rekam_lainnya
    from core.first_recording
    where tanggal_rekam >= (select window_start from scope)
    group by all
),

total as (
    select tanggal_rekam as tanggal, kode_kecamatan, count(*) as rekam_total
    from core.recording
    where tanggal_rekam >= (select window_start from scope)
    group by all
),

daily as (
    select
        grid.tanggal,
        grid.kode_kabupaten,
        grid.kode_kecamatan,
        grid.nama_kecamatan,
        coalesce(baru.rekam_baru, 0)         as rekam_baru,
        coalesce(total.rekam_total, 0)       as rekam_total,
        coalesce(baru.rekam_dinas, 0)        as rekam_dinas,
        coalesce(baru.rekam_kecamatan, 0)    as rekam_kecamatan,
        coalesce(baru.rekam_jemput_bola, 0)  as rekam_jemput_bola,
        coalesce(baru.rekam_sekolah, 0)      as rekam_sekolah,
        coalesce(baru.rekam_lainnya, 0)      as rekam_lainnya,
        coalesce(baru.baru_wajib, 0)         as baru_wajib
    from grid
    left join baru  on baru.tanggal = grid.tanggal and baru.kode_kecamatan = grid.kode_kecamatan
    left join total on total.tanggal = grid.tanggal and total.kode_kecamatan = grid.kode_kecamatan
),

paced as (
    select
        daily.*,
        avg(rekam_baru) over w7 as rekam_baru_7h,
        avg(baru_wajib) over w7 as laju_rekam_7h
    from daily
    window w7 as (partition by kode_kecamatan order by tanggal rows between 6 preceding and current row)
),

final as (
    select
        cast(paced.tanggal as date)              as tanggal,
        paced.kode_kabupaten,
        paced.kode_kecamatan,
        paced.nama_kecamatan,
        cast(paced.rekam_baru as bigint)         as rekam_baru,
        cast(paced.rekam_total as bigint)        as rekam_total,
        cast(paced.rekam_dinas as bigint)        as rekam_dinas,
        cast(paced.rekam_kecamatan as bigint)    as rekam_kecamatan,
        cast(paced.rekam_jemput_bola as bigint)  as rekam_jemput_bola,
        cast(paced.rekam_sekolah as bigint)      as rekam_sekolah,
        cast(paced.rekam_lainnya as bigint)      as rekam_lainnya,
        cast(paced.rekam_baru_7h as double)      as rekam_baru_7h,
        backlog.wajib_ktp,
        backlog.sudah_rekam,
        backlog.belum_rekam,
        backlog.pct_rekam,
        cast(case
            when backlog.belum_rekam is null then null
            when backlog.belum_rekam <= 0 then paced.tanggal
            when paced.laju_rekam_7h > 0
                then paced.tanggal + cast(ceil(backlog.belum_rekam / paced.laju_rekam_7h) as integer)
        end as date)                              as proyeksi_tuntas,
        cast(paced.laju_rekam_7h as double)       as laju_rekam_7h,
        cast(paced.baru_wajib as bigint)          as rekam_baru_wajib
    from paced
    left join mart.backlog_kecamatan as backlog
        on backlog.as_of_date = paced.tanggal and backlog.kode_kecamatan = paced.kode_kecamatan
    where paced.tanggal >= (select first_date from scope)
)

select * from final order by tanggal, kode_kecamatan

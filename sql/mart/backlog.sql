-- Backlog per desa: one row per as-of date x desa (a desa has no row at dates before the first snapshot holding it).
-- S = for each desa, the latest snapshot holding it with cut-off <= as_of_date (core.snapshot: on one date a kab/kota
-- snapshot counts over the area's); sudah_rekam = S + persons whose first recording is in (S, as_of_date], wajib KTP at it.
with spine as (
    -- the dates this build rebuilds (core.build_scope, written by the model runner: every date in a full build)
    select tanggal as as_of_date from core.date_spine where tanggal >= (select first_date from core.build_scope)
),

snapshot_desa as (
    select distinct kode_desa from core.snapshot
),

grid as (
    -- each desa on each date, with the cut-off of the latest snapshot holding it on or before that date
    select spine.as_of_date, snapshot.kode_desa, snapshot.snapshot_date, snapshot.wajib_ktp, snapshot.sudah_rekam
    from spine
    cross join snapshot_desa
    asof join core.snapshot as snapshot
        on snapshot.kode_desa = snapshot_desa.kode_desa and snapshot.snapshot_date <= spine.as_of_date
),

with_new as (
    select
        grid.*,
        coalesce(at_date.rekam_wajib_kumulatif, 0) - coalesce(at_snapshot.rekam_wajib_kumulatif, 0) as baru_sejak_snapshot
    from grid
    asof left join core.wajib_recorded_cumulative as at_date
        on at_date.kode_desa = grid.kode_desa and at_date.tanggal <= grid.as_of_date
    asof left join core.wajib_recorded_cumulative as at_snapshot
        on at_snapshot.kode_desa = grid.kode_desa and at_snapshot.tanggal <= grid.snapshot_date
),

final as (
    select
        cast(with_new.as_of_date as date)                                  as as_of_date,
        desa.kode_kabupaten,
        desa.nama_kabupaten,
        desa.kode_kecamatan,
        desa.nama_kecamatan,
        with_new.kode_desa,
        desa.nama_desa,
        cast(with_new.wajib_ktp as bigint)                                 as wajib_ktp,
        cast(with_new.sudah_rekam + with_new.baru_sejak_snapshot as bigint) as sudah_rekam,
        cast(with_new.wajib_ktp - with_new.sudah_rekam - with_new.baru_sejak_snapshot as bigint) as belum_rekam,
        cast(case when with_new.wajib_ktp = 0 then null
             else round(100.0 * (with_new.sudah_rekam + with_new.baru_sejak_snapshot) / with_new.wajib_ktp, 2)
        end as double)                                                     as pct_rekam
    from with_new
    join core.desa as desa on desa.kode_desa = with_new.kode_desa
)

select * from final order by as_of_date, kode_desa

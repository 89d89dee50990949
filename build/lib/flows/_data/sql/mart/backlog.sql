-- Backlog per desa: one row per as-of date x desa (dates with no snapshot on or before them have no rows).
-- sudah_rekam = snapshot S (latest cut-off <= as_of_date) + persons whose first recording is in (S, as_of_date], wajib KTP at it.
with spine as (
    select tanggal as as_of_date from core.date_spine
),

snapshot_dates as (
    select distinct snapshot_date from core.snapshot
),

as_of as (
    select spine.as_of_date, max(snapshot_dates.snapshot_date) as snapshot_date
    from spine
    join snapshot_dates on snapshot_dates.snapshot_date <= spine.as_of_date
    group by spine.as_of_date
),

grid as (
    select as_of.as_of_date, as_of.snapshot_date, snapshot.kode_desa, snapshot.wajib_ktp, snapshot.sudah_rekam
    from as_of
    join core.snapshot as snapshot on snapshot.snapshot_date = as_of.snapshot_date
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

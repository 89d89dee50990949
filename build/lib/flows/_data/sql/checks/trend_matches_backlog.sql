-- severity: bug. participation_trend carries the backlog of its kecamatan and date; between two dates under the same snapshot, sudah_rekam rises by exactly the new wajib-KTP first recordings.
with t as (
    select p.*, b.sudah_rekam as b_sudah, b.belum_rekam as b_belum, b.wajib_ktp as b_wajib
    from mart.participation_trend p
    left join mart.backlog_kecamatan b on b.as_of_date = p.tanggal and b.kode_kecamatan = p.kode_kecamatan
),
mismatch as (
    select tanggal, kode_kecamatan, 'backlog columns differ' as problem from t
    where sudah_rekam is distinct from b_sudah or belum_rekam is distinct from b_belum or wajib_ktp is distinct from b_wajib
),
snap as (select distinct snapshot_date from core.snapshot),
steps as (
    select tanggal, kode_kecamatan, sudah_rekam, rekam_baru_wajib,
           lag(sudah_rekam) over (partition by kode_kecamatan order by tanggal) as prev_sudah
    from mart.participation_trend
),
jumps as (
    select s.tanggal, s.kode_kecamatan, 'sudah_rekam step differs from new wajib recordings' as problem
    from steps s
    where s.prev_sudah is not null
      and s.tanggal not in (select snapshot_date from snap)
      and s.sudah_rekam - s.prev_sudah <> s.rekam_baru_wajib
)
select * from mismatch union all select * from jumps

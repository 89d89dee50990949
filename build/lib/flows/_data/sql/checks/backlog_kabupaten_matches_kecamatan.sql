-- severity: bug. mart.backlog_kabupaten has one row per as-of date, equal to the sum of its kecamatan in mart.backlog_kecamatan.
with sums as (
    select as_of_date, sum(wajib_ktp) as wajib_ktp, sum(sudah_rekam) as sudah_rekam, sum(belum_rekam) as belum_rekam
    from mart.backlog_kecamatan group by all
),
grain as (
    select as_of_date, 'several rows for one date' as problem from mart.backlog_kabupaten group by all having count(*) > 1
)
select k.as_of_date, 'differs from the sum of its kecamatan' as problem
from mart.backlog_kabupaten k
full join sums s on s.as_of_date = k.as_of_date
where k.wajib_ktp is distinct from s.wajib_ktp
   or k.sudah_rekam is distinct from s.sudah_rekam
   or k.belum_rekam is distinct from s.belum_rekam
union all
select * from grain

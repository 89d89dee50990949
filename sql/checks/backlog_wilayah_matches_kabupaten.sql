-- severity: bug. mart.backlog_wilayah has one row per as-of date, equal to the sum of its kab/kota in mart.backlog_kabupaten.
with sums as (
    select as_of_date, count(*) as n, sum(wajib_ktp) as wajib_ktp, sum(sudah_rekam) as sudah_rekam, sum(belum_rekam) as belum_rekam
    from mart.backlog_kabupaten group by all
)
select coalesce(w.as_of_date, s.as_of_date) as as_of_date, 'differs from the sum of its kab/kota' as problem
from mart.backlog_wilayah w
full join sums s on s.as_of_date = w.as_of_date
where w.jumlah_kabupaten is distinct from s.n
   or w.wajib_ktp is distinct from s.wajib_ktp
   or w.sudah_rekam is distinct from s.sudah_rekam
   or w.belum_rekam is distinct from s.belum_rekam
union all
select as_of_date, 'several rows for one date' as problem from mart.backlog_wilayah group by all having count(*) > 1

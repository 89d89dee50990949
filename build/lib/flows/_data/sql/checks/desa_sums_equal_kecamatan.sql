-- severity: bug. Each mart.backlog_kecamatan row equals the sum of its desa in mart.backlog.
with sums as (
    select as_of_date, kode_kecamatan, sum(wajib_ktp) as wajib_ktp, sum(sudah_rekam) as sudah_rekam, sum(belum_rekam) as belum_rekam
    from mart.backlog group by all
)
select k.as_of_date, k.kode_kecamatan
from mart.backlog_kecamatan k
full join sums s on s.as_of_date = k.as_of_date and s.kode_kecamatan = k.kode_kecamatan
where k.wajib_ktp is distinct from s.wajib_ktp
   or k.sudah_rekam is distinct from s.sudah_rekam
   or k.belum_rekam is distinct from s.belum_rekam

-- severity: bug. mart.outreach_requests has one row per request (kode_desa x nomor_surat, case-insensitive, x tanggal_daftar).
select kode_desa, upper(nomor_surat) as nomor_surat, tanggal_daftar, count(*) as n
from mart.outreach_requests group by all having count(*) > 1

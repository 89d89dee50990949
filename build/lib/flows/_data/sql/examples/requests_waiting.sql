-- Village letters still waiting for a jemput bola team, longest first, with the desa's backlog today.
select
    requests.tanggal_daftar,
    requests.nomor_surat,
    requests.nama_desa,
    priority.nama_kecamatan,
    requests.hari_menunggu,
    requests.perkiraan_warga,
    priority.belum_rekam,
    priority.peringkat
from mart.outreach_requests as requests
join mart.outreach_priority as priority
    on priority.kode_desa = requests.kode_desa
   and priority.as_of_date = (select max(as_of_date) from mart.outreach_priority)
where requests.tanggal_dilayani is null
order by requests.hari_menunggu desc, requests.tanggal_daftar, requests.kode_desa

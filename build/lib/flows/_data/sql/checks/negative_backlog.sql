-- severity: data. belum_rekam below zero: more recordings than the snapshot's wajib KTP (inconsistent inputs, not clamped).
select as_of_date, kode_kecamatan, kode_desa, nama_desa, wajib_ktp, sudah_rekam, belum_rekam
from mart.backlog where belum_rekam < 0

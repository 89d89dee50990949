-- Jemput bola (outreach visits) against the office in Muaradua, per kecamatan of residence, over the whole range.
select
    kode_kecamatan,
    nama_kecamatan,
    sum(rekam_jemput_bola)                                                     as jemput_bola,
    sum(rekam_dinas)                                                           as dinas,
    sum(rekam_baru)                                                            as rekam_baru,
    round(100.0 * sum(rekam_jemput_bola) / nullif(sum(rekam_baru), 0), 1)      as pct_jemput_bola,
    round(100.0 * sum(rekam_dinas) / nullif(sum(rekam_baru), 0), 1)            as pct_dinas
from mart.participation_trend
group by all
order by pct_jemput_bola desc nulls last, kode_kecamatan

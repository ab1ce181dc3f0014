/**
 * The one message catalogue of the web service: every page, answer, advice and
 * error a person reads, in Bahasa Indonesia (the default) and English. Domain
 * words stay as agents say them in both languages (IDPEL, KDPM, tusbung,
 * gardu, APKT, PTL, ULP). `{name}` in a message is filled by `t`.
 * Pure data and functions; `test/catalogue.test.ts` checks both languages are
 * complete and use the same placeholders.
 */

export const LANGS = ['id', 'en'] as const;
export type Lang = (typeof LANGS)[number];
export const DEFAULT_LANG: Lang = 'id';
/** BCP 47 locale of each language, for numbers and dates. */
export const LOCALE: Readonly<Record<Lang, string>> = { id: 'id-ID', en: 'en-GB' };

type Entry = Readonly<Record<Lang, string>>;

export const MESSAGES = {
  // Page chrome
  'nav.dashboard': { id: 'Operasi jaringan', en: 'Grid operations' },
  'nav.callcentre': { id: 'Call centre (CC 123)', en: 'Call centre (CC 123)' },
  'nav.complaints': { id: 'Keluhan ULP', en: 'ULP complaints' },
  'nav.language': { id: 'Bahasa', en: 'Language' },
  'nav.signed_in_as': { id: 'Masuk sebagai {user} ({role})', en: 'Signed in as {user} ({role})' },
  'nav.main': { id: 'Menu utama', en: 'Main menu' },
  'title.signin': { id: 'Masuk', en: 'Sign in' },

  // Sign-in
  'login.prompt': { id: 'Masuk dengan token API Anda.', en: 'Sign in with your API token.' },
  'login.token': { id: 'Token', en: 'Token' },
  'login.submit': { id: 'Masuk', en: 'Sign in' },
  'login.invalid': { id: 'Token itu tidak berlaku.', en: 'That token is not valid.' },

  // Dashboard
  'dash.region': { id: 'Wilayah', en: 'Region' },
  'dash.all_regions': { id: 'Semua wilayah', en: 'All regions' },
  'dash.connecting': { id: 'menghubungkan…', en: 'connecting…' },
  'dash.reconnecting': { id: 'menghubungkan ulang…', en: 'reconnecting…' },
  'dash.live': { id: 'langsung · diperbarui {time}', en: 'live · updated {time}' },
  'dash.active_outages': { id: 'Padam aktif', en: 'Active outages' },
  'dash.customers_without_supply': { id: 'Pelanggan tanpa suplai', en: 'Customers without supply' },
  'dash.tusbung_excluded': { id: 'Tusbung dikecualikan', en: 'Tusbung excluded' },
  'dash.chart_title': {
    id: 'Pelanggan tanpa suplai (gangguan jaringan)',
    en: 'Customers without supply (grid outages)',
  },
  'dash.active_title': { id: 'Padam aktif', en: 'Active outages' },
  'dash.restored_title': { id: 'Baru saja menyala kembali', en: 'Recently restored' },
  'dash.now': { id: 'kini', en: 'now' },
  'ctl.reliability_title': {
    id: 'Keandalan bulan ini per ULP (SAIDI/SAIFI/CAIDI/MAIFI) dan kondisi kini',
    en: "This month's reliability per ULP (SAIDI/SAIFI/CAIDI/MAIFI) and now",
  },
  'ctl.col.live': { id: 'Tanpa suplai kini', en: 'Without supply now' },
  'ctl.col.served': { id: 'Pelanggan', en: 'Customers' },
  'ctl.col.saidi': { id: 'SAIDI (menit)', en: 'SAIDI (min)' },
  'ctl.col.saifi': { id: 'SAIFI', en: 'SAIFI' },
  'ctl.col.caidi': { id: 'CAIDI (menit)', en: 'CAIDI (min)' },
  'ctl.col.maifi': { id: 'MAIFI', en: 'MAIFI' },
  'ctl.none': { id: 'Belum ada angka bulan ini.', en: 'No figures this month yet.' },
  'ctl.silent_title': {
    id: 'Meter senyap lebih dari 1 jam per gardu (gangguan komunikasi?)',
    en: 'Meters silent for more than an hour, by gardu (communication faults?)',
  },
  'ctl.silent_dcu_title': {
    id: 'Meter PLC senyap per konsentrator (DCU gardu)',
    en: "Silent PLC meters by concentrator (the gardu's DCU)",
  },
  'ctl.col.silent_of': { id: 'Senyap / meter AMI', en: 'Silent / AMI meters' },
  'ctl.col.plc': {
    id: 'PLC lewat konsentrator (senyap / jumlah)',
    en: 'PLC via the concentrator (silent / all)',
  },
  'ctl.col.direct': {
    id: 'Langsung RF/seluler/FO (senyap / jumlah)',
    en: 'Direct RF/cellular/fibre (silent / all)',
  },
  'ctl.col.diagnosis': { id: 'Penilaian', en: 'Assessment' },
  'ctl.col.concentrator': { id: 'Konsentrator', en: 'Concentrator' },
  'ctl.col.plc_silent': { id: 'Meter PLC senyap / jumlah', en: 'PLC meters silent / all' },
  'ctl.col.examples': { id: 'Contoh', en: 'Examples' },
  'ctl.no_silent': { id: 'Tidak ada meter senyap.', en: 'No silent meters.' },
  'ctl.no_silent_dcu': { id: 'Tidak ada meter PLC senyap.', en: 'No silent PLC meters.' },
  'silent.diag.OUTAGE': {
    id: 'gardu {gardu} dalam padam (terkonfirmasi atau diduga): senyap karena tanpa suplai',
    en: 'gardu {gardu} is in an outage (confirmed or suspected): silent for want of supply',
  },
  'silent.diag.ALL_SILENT': {
    id: 'semua meter AMI gardu {gardu} senyap dan tidak ada padam tercatat: periksa suplai dan gardu',
    en: 'every AMI meter of gardu {gardu} is silent and no outage is known: check the supply and the gardu',
  },
  'silent.diag.CONCENTRATOR': {
    id: 'konsentrator gardu {gardu} senyap: semua meter PLC tanpa data, meter RF/seluler/FO tetap melapor (gangguan komunikasi)',
    en: 'the concentrator of gardu {gardu} is silent: no data from any PLC meter while RF/cellular/fibre meters report (communication fault)',
  },
  'silent.diag.METERS': {
    id: 'meter tersebar: gangguan komunikasi masing-masing meter',
    en: "scattered meters: each meter's own communication",
  },
  'silent.concentrator': { id: 'DCU gardu {gardu}', en: 'DCU of gardu {gardu}' },
  'silent.dcu.down': { id: 'tidak ada meter PLC yang melapor', en: 'no PLC meter behind it reports' },
  'silent.dcu.some': { id: 'sebagian meter PLC senyap', en: 'some PLC meters silent' },
  'ctl.as_of': { id: 'Dari ClickHouse, {time}', en: 'From ClickHouse, {time}' },
  'ctl.unavailable': {
    id: 'Angka ClickHouse tidak tersedia saat ini.',
    en: 'ClickHouse figures are not available right now.',
  },
  'dash.suspected': { id: 'Dugaan padam', en: 'Suspected outages' },
  'susp.title': {
    id: 'Dugaan padam (belum terkonfirmasi, sedang diverifikasi)',
    en: 'Suspected outages (not confirmed yet, being verified)',
  },
  'susp.none': { id: 'Tidak ada dugaan padam.', en: 'No suspected outages.' },
  'susp.status.SUSPECTED': { id: 'Diduga', en: 'Suspected' },
  'susp.status.VERIFIED': { id: 'Terverifikasi ping', en: 'Verified by ping' },
  'susp.status.CONFIRMED': { id: 'Terkonfirmasi', en: 'Confirmed' },
  'susp.status.CANCELLED': { id: 'Dibatalkan', en: 'Cancelled' },
  'susp.no_pings': {
    id: 'belum ada ping (bukti last gasp)',
    en: 'no pings yet (last-gasp evidence)',
  },
  'susp.pings': {
    id: '{sent} ping: {answered} menjawab, {silent} tidak menjawab, {waiting} menunggu',
    en: '{sent} pings: {answered} answered, {silent} silent, {waiting} waiting',
  },
  'susp.col.status': { id: 'Status', en: 'Status' },
  'susp.col.where': { id: 'Lokasi', en: 'Where' },
  'susp.col.last_gasps': { id: 'Last gasp', en: 'Last gasps' },
  'susp.col.customers': { id: 'Pelanggan di bawahnya', en: 'Customers under it' },
  'susp.col.verification': { id: 'Verifikasi', en: 'Verification' },
  'dash.no_active': { id: 'Tidak ada padam aktif.', en: 'No active outages.' },
  'dash.group_customers': {
    id: '{label} · {n} pelanggan tanpa suplai',
    en: '{label} · {n} customers without supply',
  },
  'col.region': { id: 'Wilayah', en: 'Region' },
  'col.ulp': { id: 'ULP', en: 'ULP' },
  'col.feeder': { id: 'Penyulang', en: 'Feeder' },
  'col.gardu': { id: 'Gardu', en: 'Gardu' },
  'col.scope': { id: 'Cakupan', en: 'Scope' },
  'col.customers_affected': { id: 'Pelanggan terdampak', en: 'Customers affected' },
  'col.tusbung_excluded': { id: 'Tusbung dikecualikan', en: 'Tusbung excluded' },
  'col.started': { id: 'Mulai', en: 'Started' },
  'col.restored': { id: 'Menyala kembali', en: 'Restored' },
  'col.duration': { id: 'Durasi', en: 'Duration' },
  'col.outage': { id: 'Gangguan', en: 'Outage' },
  'scope.METER': { id: 'meter', en: 'meter' },
  'scope.GARDU': { id: 'gardu', en: 'gardu' },
  'scope.FEEDER': { id: 'penyulang', en: 'feeder' },
  'dash.part_of': { id: '(bagian dari {id})', en: '(part of {id})' },

  // Call-centre lookup
  'cc.lookup_label': { id: 'IDPEL atau nomor meter', en: 'IDPEL or meter id' },
  'cc.lookup_submit': { id: 'Cari', en: 'Look up' },
  'cc.idpel': { id: 'IDPEL', en: 'IDPEL' },
  'cc.meter': { id: 'Meter', en: 'Meter' },
  'cc.kdpm': { id: 'KDPM', en: 'KDPM' },
  'cc.tariff': { id: 'Tarif / daya', en: 'Tariff / daya' },
  'cc.unit': { id: 'Unit', en: 'Unit' },
  'cc.advice_title': { id: 'Yang disampaikan kepada pelanggan', en: 'What to tell the customer' },
  'cc.see_answer': { id: 'Lihat jawaban: {q}', en: 'See the answer: {q}' },
  'cc.unit_text': { id: '{region} · ULP {ulp} · gardu {gardu}', en: '{region} · ULP {ulp} · gardu {gardu}' },

  // Call logging (SOP: keyword KWH METER AMI, type and sub-type, Issue Closed or to the unit)
  'call.title': { id: 'Catat panggilan (APKT KELUHAN)', en: 'Log the call (APKT KELUHAN)' },
  'call.keyword': { id: 'Kata kunci', en: 'Keyword' },
  // The SOP's words: "Pencatatan & Pemilihan Tipe & Sub Tipe Keluhan".
  'call.type': { id: 'Tipe Keluhan', en: 'Complaint type' },
  'call.subtype': { id: 'Sub Tipe Keluhan', en: 'Complaint sub-type' },
  'call.notes': { id: 'Catatan', en: 'Notes' },
  'call.outcome': { id: 'Hasil', en: 'Outcome' },
  'call.outcome.ISSUE_CLOSED': {
    id: 'Pelanggan telah memahami penjelasan (tidak menjadi keluhan): APKT KELUHAN, Issue Closed di CC PLN123',
    en: 'The customer understood the explanation (not a complaint): APKT KELUHAN, Issue Closed at CC PLN123',
  },
  'call.outcome.FORWARDED_TO_UNIT': {
    id: 'Pelanggan keberatan & memerlukan tindaklanjut dari Unit (menjadi keluhan, PTL menyala): APKT KELUHAN ke Unit',
    en: 'The customer objects and needs follow-up by the unit (a complaint, PTL on): APKT KELUHAN to the unit',
  },
  'call.submit': { id: 'Simpan catatan', en: 'Save the log' },
  'call.saved_closed': {
    id: 'Panggilan {id} tercatat: Issue Closed di CC PLN123 ({time}).',
    en: 'Call {id} logged: Issue Closed at CC PLN123 ({time}).',
  },
  'call.saved_forwarded': {
    id: 'Panggilan {id} tercatat dan diteruskan ke ULP {ulp} (PTL menyala, {time}).',
    en: 'Call {id} logged and forwarded to ULP {ulp} (PTL on, {time}).',
  },
  'call.history': { id: 'Panggilan tercatat untuk pelanggan ini', en: 'Calls logged for this customer' },
  'call.none': { id: 'Belum ada panggilan tercatat.', en: 'No calls logged yet.' },
  'status.ISSUE_CLOSED': { id: 'Issue Closed di CC PLN123', en: 'Issue Closed at CC PLN123' },
  'status.OPEN': { id: 'Terbuka di ULP (PTL menyala)', en: 'Open at the ULP (PTL on)' },
  'status.IN_PROGRESS': { id: 'Sedang ditangani ULP (PTL menyala)', en: 'Being worked by the ULP (PTL on)' },
  'status.CLOSED': { id: 'Ditutup oleh ULP', en: 'Closed by the ULP' },

  // Unit (ULP) complaints
  'unit.title': { id: 'Keluhan terbuka ULP {ulp}', en: 'Open complaints of ULP {ulp}' },
  'unit.title_all': { id: 'Keluhan terbuka', en: 'Open complaints' },
  'unit.none': { id: 'Tidak ada keluhan terbuka.', en: 'No open complaints.' },
  'unit.col.called_at': { id: 'Waktu panggilan', en: 'Call time' },
  'unit.col.customer': { id: 'Pelanggan', en: 'Customer' },
  'unit.col.type': { id: 'Tipe / sub tipe', en: 'Type / sub-type' },
  'unit.col.notes': { id: 'Catatan agen', en: "Agent's notes" },
  'unit.col.status': { id: 'Status', en: 'Status' },
  'unit.col.action': { id: 'Tindakan', en: 'Action' },
  'unit.work': { id: 'Tangani', en: 'Start work' },
  'unit.resolution': { id: 'Penyelesaian untuk {id}', en: 'Resolution of {id}' },
  'unit.close': { id: 'Tutup keluhan', en: 'Close the complaint' },
  'unit.closed': { id: 'Keluhan {id} ditutup ({time}).', en: 'Complaint {id} closed ({time}).' },
  'unit.started': { id: 'Keluhan {id} sedang ditangani.', en: 'Complaint {id} is being worked.' },

  // FAQ panel
  'faq.title': { id: 'FAQ dan QnA smart meter AMI', en: 'Smart meter AMI FAQ and QnA' },
  'faq.search': { id: 'Cari jawaban', en: 'Search the answers' },
  'faq.none': { id: 'Tidak ada jawaban yang cocok.', en: 'No matching answer.' },

  // Meter kinds (KDPM)
  'kdpm.L': { id: 'AMI, komunikasi PLC (power line)', en: 'AMI, PLC (power line) communication' },
  'kdpm.R': { id: 'AMI, komunikasi RF (radio frekuensi)', en: 'AMI, RF (radio mesh) communication' },
  'kdpm.S': { id: 'AMI, komunikasi seluler', en: 'AMI, cellular communication' },
  'kdpm.F': { id: 'AMI, komunikasi serat optik (FO)', en: 'AMI, fibre-optic communication' },
  'kdpm.A': {
    id: 'AMR: dibaca jarak jauh, BUKAN meter AMI',
    en: 'AMR: remotely read, NOT an AMI meter',
  },

  // The call-centre answer, by meter state
  since: { id: ' sejak {time}', en: ' since {time}' },
  'outage.where.FEEDER': { id: 'penyulang {id}', en: 'feeder {id}' },
  'outage.where.GARDU': { id: 'gardu {id}', en: 'gardu {id}' },
  'outage.where.METER': { id: 'meter ini', en: 'this meter' },
  'outage.being_confirmed': { id: '(sedang dikonfirmasi)', en: '(being confirmed)' },
  'outage.affected': { id: '; {n} pelanggan terdampak', en: '; {n} customers affected' },
  'state.OUTAGE.headline': {
    id: 'Padam: tidak ada suplai dari jaringan PLN',
    en: 'Power outage (padam): no supply from the grid',
  },
  'state.OUTAGE.detail': {
    id: 'Gangguan {id} di {where}{since}{affected}. Meter sendiri melaporkan hilangnya tegangan (last gasp).',
    en: 'Outage {id} at {where}{since}{affected}. The meter reported the loss of supply itself (last gasp).',
  },
  'state.OUTAGE.advice1': {
    id: 'Sampaikan bahwa PLN sudah mengetahui gangguan ini dan petugas ULP {ulp} sedang menanganinya.',
    en: 'Tell the customer PLN already knows about this outage and the field crew of ULP {ulp} is on it.',
  },
  'state.OUTAGE.advice2': {
    id: 'Tidak perlu keluhan untuk padamnya; catat panggilan dengan kata kunci "KWH METER AMI".',
    en: 'No complaint is needed for the supply loss itself; log the call with the keyword "KWH METER AMI".',
  },
  'state.SUSPECTED.headline.SUSPECTED': {
    id: 'Kemungkinan padam di {where}: sedang diverifikasi',
    en: 'Possible outage at {where}: being verified',
  },
  'state.SUSPECTED.headline.VERIFIED': {
    id: 'Kemungkinan padam di {where}: terverifikasi dengan ping, menunggu konfirmasi',
    en: 'Possible outage at {where}: verified by ping, awaiting confirmation',
  },
  'state.SUSPECTED.detail': {
    id: 'Kemungkinan padam di {where} sejak {time}, sedang diverifikasi: {gasps} last gasp dari {total} pelanggan; {verification}. Meter ini belum dilaporkan padam.',
    en: 'A possible outage at {where} since {time}, being verified: {gasps} last gasps of {total} customers; {verification}. This meter has not been reported without supply yet.',
  },
  'state.SUSPECTED.advice1': {
    id: 'Sampaikan bahwa PLN sedang memeriksa kemungkinan gangguan di {where}; bila terkonfirmasi, petugas ULP {ulp} menanganinya.',
    en: 'Tell the customer PLN is checking a possible fault at {where}; once confirmed, the field crew of ULP {ulp} handles it.',
  },
  'state.SUSPECTED.advice2': {
    id: 'Tidak perlu keluhan untuk padamnya; catat panggilan dengan kata kunci "KWH METER AMI". Jika layar meter menyala tetapi rumah gelap, periksa MCB dan instalasi (IML).',
    en: 'No complaint is needed for the supply loss itself; log the call with the keyword "KWH METER AMI". If the meter display is on but the house is dark, check the MCB and the wiring (IML).',
  },
  'state.ENERGIZED.headline': {
    id: 'Bertegangan: suplai di meter normal',
    en: 'Energized: supply is on at the meter',
  },
  'state.ENERGIZED.detail': {
    id: 'Meter bertegangan dan relay tertutup{since}.',
    en: 'The meter is powered and its relay is closed{since}.',
  },
  'state.ENERGIZED.advice1': {
    id: 'Jika pelanggan tidak mendapat listrik, masalahnya ada setelah meter (instalasi milik pelanggan, IML): periksa MCB dan instalasi rumah.',
    en: 'If the customer has no power, the fault is behind the meter (the customer installation, IML): check the MCB and the house wiring.',
  },
  'state.ENERGIZED.advice2': {
    id: 'Jika berlanjut, buat keluhan di APKT agar Unit datang ke lokasi.',
    en: 'If it persists, create a complaint in APKT for the unit to visit.',
  },
  'state.DISCONNECTED.headline': {
    id: 'Pemutusan sementara karena tunggakan (tusbung)',
    en: 'Disconnected for arrears (tusbung)',
  },
  'state.DISCONNECTED.detail': {
    id: 'Relay dibuka dengan perintah jarak jauh karena tagihan belum dibayar{since}. Meter tetap menyala dan menampilkan gambar relay open.',
    en: 'The relay was opened by remote command for an unpaid bill{since}. The meter itself is powered and shows the relay-open symbol.',
  },
  'state.DISCONNECTED.advice1': {
    id: 'Listrik kembali setelah tagihan dilunasi: penormalan lalu diaktifkan melalui sistem.',
    en: 'Supply returns after the bill is paid: reconnection is then enabled through the system.',
  },
  'state.DISCONNECTED.advice2': {
    id: 'Setelah pelunasan, pelanggan menekan tombol atas dan bawah bersamaan selama 3-5 detik.',
    en: 'After payment, the customer presses the up and down buttons together for 3 to 5 seconds.',
  },
  'state.RECONNECT_ENABLED.headline': {
    id: 'Penormalan sudah diaktifkan: pelanggan perlu menekan tombol',
    en: 'Reconnection enabled: the customer must press the buttons',
  },
  'state.RECONNECT_ENABLED.detail': {
    id: 'Pelunasan tercatat dan penormalan diaktifkan{since}; relay baru tertutup setelah tombol meter ditekan.',
    en: "Payment is recorded and reconnection is enabled{since}; the relay closes only when the customer presses the meter's buttons.",
  },
  'state.RECONNECT_ENABLED.advice1': {
    id: 'Minta pelanggan menekan tombol atas dan bawah bersamaan selama 3-5 detik; listrik lalu menyala kembali.',
    en: 'Ask the customer to press the up and down buttons together for 3 to 5 seconds; power then returns.',
  },
  'state.RECONNECT_ENABLED.advice2': {
    id: 'Jika pelanggan kesulitan, buat laporan ke ULP {ulp} agar petugas datang menekan tombol.',
    en: 'If the customer cannot, report it to ULP {ulp} so an officer comes to press them.',
  },
  'state.POWER_LIMIT_TRIP.headline': {
    id: 'Trip power limit: beban melebihi daya kontrak',
    en: 'Power-limit trip: the load exceeded the contracted power',
  },
  'state.POWER_LIMIT_TRIP.detail': {
    id: 'Relay meter terbuka karena beban melewati batas daya{since}. Suplai dari jaringan normal.',
    en: "The meter's relay opened because the load went above the power limit{since}. Supply from the grid is normal.",
  },
  'state.POWER_LIMIT_TRIP.advice1': {
    id: 'Minta pelanggan mematikan sebagian peralatan listrik.',
    en: 'Ask the customer to switch off some appliances.',
  },
  'state.POWER_LIMIT_TRIP.advice2': {
    id: 'Lalu tekan tombol atas dan bawah bersamaan selama 3-5 detik untuk menormalkan.',
    en: 'Then press the up and down buttons together for 3 to 5 seconds to restore supply.',
  },
  'state.UNKNOWN.headline': { id: 'Keadaan belum dapat ditentukan', en: 'State not determined' },
  'state.UNKNOWN.detail': {
    id: 'Meter melaporkan relay terbuka dengan sebab yang tidak dapat diketahui sistem{since}.',
    en: 'The meter reports its relay open for a reason the system cannot tell{since}.',
  },
  'state.UNKNOWN.advice1': {
    id: 'Buat keluhan di APKT untuk ULP {ulp} agar meter diperiksa di lokasi.',
    en: 'Create a complaint in APKT for ULP {ulp} to check the meter on site.',
  },
  'state.AMR.headline': {
    id: 'Meter AMR (KDPM A): bukan meter AMI',
    en: 'AMR meter (KDPM A): not an AMI meter',
  },
  'state.AMR.detail': {
    id: 'Meter ini dibaca jarak jauh tetapi tanpa kendali dua arah dan tanpa last gasp: keadaan suplainya tidak terlihat dari sini, dan perintah jarak jauh tidak bisa dilakukan.',
    en: 'This meter is read remotely but has no two-way control and sends no last gasp: its supply state cannot be seen from here, and remote commands are not possible.',
  },
  'state.AMR.advice1': {
    id: 'Tanyakan apa yang tampil di layar meter, dan apakah tetangga mendapat listrik.',
    en: 'Ask what the meter display shows, and whether the neighbours have supply.',
  },
  'state.AMR.advice2': {
    id: 'Bila perlu, buat keluhan di APKT agar Unit datang ke lokasi.',
    en: 'If needed, create a complaint in APKT for the unit to visit.',
  },

  // Consumption (billing_usage)
  'usage.none': {
    id: 'Pemakaian periode tagihan ini belum tersedia.',
    en: 'Consumption this billing period is not available yet.',
  },
  'usage.no_read': {
    id: 'Periode {period}: belum ada pembacaan meter pada periode ini, jadi belum ada pemakaian yang dapat dihitung.',
    en: 'Period {period}: no meter read yet in this period, so there is no consumption to compute.',
  },
  'usage.text': {
    id: 'Periode tagihan ini ({period}) sampai {time}: {kwh} kWh, {rp}{est}.',
    en: 'This billing period ({period}) to {time}: {kwh} kWh, {rp}{est}.',
  },
  'usage.estimated': {
    id: ' (perkiraan: pembacaan batas periode diinterpolasi)',
    en: ' (estimated: a boundary read was interpolated)',
  },

  // Errors shown to people
  'error.give_id': {
    id: 'Masukkan IDPEL (12 digit) atau nomor meter.',
    en: 'Give an IDPEL (12 digits) or a meter id.',
  },
  'error.no_customer': {
    id: 'Tidak ada pelanggan dengan IDPEL atau nomor meter {q}.',
    en: 'No customer with IDPEL or meter id {q}.',
  },
  'error.invalid_request': { id: 'Permintaan tidak valid: {detail}', en: 'Invalid request: {detail}' },
  'error.auth_required': {
    id: 'Perlu masuk: kirim token yang berlaku dan belum kedaluwarsa (Authorization: Bearer <token>).',
    en: 'Authentication required: send a valid token that has not expired (Authorization: Bearer <token>).',
  },
  'error.forbidden': {
    id: 'Pengguna {user} (peran {role}) tidak boleh {what}.',
    en: 'User {user} (role {role}) may not {what}.',
  },
  'error.rate_limit': {
    id: 'Batas permintaan: terlalu banyak {what} untuk {user}; coba lagi dalam {s} detik.',
    en: 'Rate limit: too many {what} for {user}; retry in {s} s.',
  },
  'error.unavailable': {
    id: 'Layanan tidak tersedia: sistem belakang tidak menjawab; tidak ada yang dikirim. ID galat {id}',
    en: 'Service unavailable: a backend did not answer; nothing was sent. Error id {id}',
  },
  'error.no_complaint': { id: 'Tidak ada keluhan {id}.', en: 'No complaint {id}.' },
  'error.not_your_ulp': {
    id: 'Keluhan {id} milik ULP {ulp}, bukan unit Anda.',
    en: 'Complaint {id} belongs to ULP {ulp}, not your unit.',
  },
  'error.transition': {
    id: 'Keluhan {id} berstatus {status}: tidak dapat {action}.',
    en: 'Complaint {id} is {status}: cannot {action}.',
  },
  'error.resolution_required': {
    id: 'Isi penyelesaian sebelum menutup keluhan.',
    en: 'Write the resolution before closing the complaint.',
  },
  'error.subtype': {
    id: 'Sub tipe {sub} tidak termasuk tipe {type}.',
    en: 'Sub-type {sub} is not under type {type}.',
  },
  'error.network': {
    id: 'Tidak dapat menghubungi layanan: {detail}',
    en: 'Cannot reach the service: {detail}',
  },
  'action.work': { id: 'ditangani', en: 'be worked' },
  'action.close': { id: 'ditutup', en: 'be closed' },
  'what.view': { id: 'melihat', en: 'view' },
  'what.commands': { id: 'mengirim perintah jarak jauh', en: 'send remote commands' },
  'what.command': { id: 'mengirim {type}', en: 'send {type}' },
  'what.log_call': { id: 'mencatat panggilan', en: 'log calls' },
  'what.complaints': { id: 'menangani keluhan ULP', en: 'work ULP complaints' },

  // The customer's story (timeline, latest read, bills)
  'story.title': { id: 'Riwayat 30 hari terakhir', en: 'The last 30 days' },
  'story.none': {
    id: 'Tidak ada kejadian dalam 30 hari terakhir.',
    en: 'Nothing happened in the last 30 days.',
  },
  'story.col.time': { id: 'Waktu', en: 'Time' },
  'story.col.what': { id: 'Kejadian', en: 'What happened' },
  'story.event.RELAY_OPENED': { id: 'Relay terbuka ({cause})', en: 'Relay opened ({cause})' },
  'story.event.RELAY_CLOSED': { id: 'Relay tertutup ({cause})', en: 'Relay closed ({cause})' },
  'story.event.RECONNECT_ENABLED': { id: 'Penormalan diaktifkan', en: 'Reconnection enabled' },
  'story.event.POWER_LIMIT_CHANGED': { id: 'Power limit diubah', en: 'Power limit changed' },
  'story.event.LAST_GASP': {
    id: 'Last gasp: meter kehilangan tegangan',
    en: 'Last gasp: the meter lost supply',
  },
  'story.event.POWER_RESTORE': { id: 'Tegangan kembali di meter', en: 'Supply back at the meter' },
  'cause.NONE': { id: 'tanpa sebab tercatat', en: 'no recorded cause' },
  'cause.REMOTE_DISCONNECT': { id: 'pemutusan jarak jauh (tusbung)', en: 'remote disconnection (tusbung)' },
  'cause.REMOTE_CONNECT': { id: 'penyambungan jarak jauh', en: 'remote connection' },
  'cause.BUTTON': { id: 'tombol meter ditekan', en: "the meter's buttons pressed" },
  'cause.POWER_LIMIT_TRIP': { id: 'trip power limit', en: 'power-limit trip' },
  'story.outage': {
    id: 'Padam {scope} {id}: {n} pelanggan terdampak, {restored}',
    en: 'Outage ({scope}) {id}: {n} customers affected, {restored}',
  },
  'story.suspected': {
    id: 'Dugaan padam di {where}, belum terkonfirmasi: {status}; {verification}',
    en: 'Suspected outage at {where}, not confirmed yet: {status}; {verification}',
  },
  'story.momentary': {
    id: 'Padam sesaat {id} ({s} detik), {n} pelanggan',
    en: 'Momentary interruption {id} ({s} s), {n} customers',
  },
  'story.restored_at': { id: 'menyala kembali {time}', en: 'restored {time}' },
  'story.still_out': { id: 'belum menyala', en: 'not restored yet' },
  'story.command': {
    id: 'Perintah {type} oleh {user} ({role}): {answer}',
    en: 'Command {type} by {user} ({role}): {answer}',
  },
  'answer.ACCEPTED': { id: 'diterima head-end {time}', en: 'accepted by the head-end {time}' },
  'answer.REFUSED': { id: 'ditolak head-end: {reason}', en: 'refused by the head-end: {reason}' },
  'answer.none': { id: 'belum ada jawaban head-end', en: 'no answer from the head-end yet' },
  'answer.not_sent': { id: 'tidak dikirim ({detail})', en: 'not sent ({detail})' },
  'story.call': {
    id: 'Panggilan "{keyword}" dicatat {agent}: {type} / {sub}; {status}',
    en: 'Call "{keyword}" logged by {agent}: {type} / {sub}; {status}',
  },
  'read.title': { id: 'Pembacaan terakhir', en: 'Latest read' },
  'read.none': { id: 'Belum ada pembacaan meter.', en: 'No meter read yet.' },
  'read.text': {
    id: '{time}: stand {stand} kWh, {v} V, relay {relay}',
    en: '{time}: stand {stand} kWh, {v} V, relay {relay}',
  },
  'relay.CLOSED': { id: 'tertutup', en: 'closed' },
  'relay.OPEN': { id: 'terbuka', en: 'open' },
  'bills.title': { id: 'Tagihan per bulan', en: 'Bills by month' },
  'bills.col.period': { id: 'Periode', en: 'Period' },
  'bills.col.kwh': { id: 'kWh', en: 'kWh' },
  'bills.col.rp': { id: 'Rupiah', en: 'Rupiah' },
  'bills.col.basis': { id: 'Dasar', en: 'Basis' },
  'bills.exact': { id: 'pasti (dari register)', en: 'exact (from the register)' },
  'bills.estimated': { id: 'perkiraan (interpolasi)', en: 'estimated (interpolated)' },
  'bills.minimum': { id: '; rekening minimum 40 jam berlaku', en: '; 40-hour minimum charge applied' },
  'bills.to_date': { id: ' (berjalan, sampai {time})', en: ' (in progress, to {time})' },
  'bills.no_read': { id: 'belum ada pembacaan pada periode ini', en: 'no read in this period yet' },
  'bills.none': { id: 'Belum ada tagihan yang dihitung.', en: 'No bill computed yet.' },
  'story.unavailable': {
    id: 'Riwayat dari ClickHouse tidak tersedia saat ini.',
    en: 'The history from ClickHouse is not available right now.',
  },

  // Ping
  'ping.button': { id: 'Ping meter sekarang', en: 'Ping the meter now' },
  'ping.WAITING': {
    id: 'Menunggu jawaban meter lewat {medium}… (dikirim {time})',
    en: 'Waiting for the meter over {medium}… (sent {time})',
  },
  'ping.ANSWERED': {
    id: 'Meter menjawab {time}{after}: {powered}, relay {relay}, stand {stand} kWh, {v} V.',
    en: 'The meter answered {time}{after}: {powered}, relay {relay}, stand {stand} kWh, {v} V.',
  },
  'ping.after': { id: ' (dalam {s} detik)', en: ' (in {s} s)' },
  'ping.powered': { id: 'bertegangan', en: 'powered' },
  'ping.not_powered': { id: 'tidak bertegangan', en: 'not powered' },
  'ping.REFUSED': { id: 'Head-end menolak: {reason}', en: 'The head-end refused: {reason}' },
  'ping.NO_ANSWER': {
    id: 'Meter tidak menjawab dalam batas waktu {medium} ({time}): meter mungkin tanpa suplai atau di luar jangkauan komunikasi.',
    en: 'The meter did not answer within the {medium} time-out ({time}): it may be without supply or out of reach.',
  },
  'ping.BUSY': {
    id: 'Konsentrator sibuk, coba lagi sebentar lagi (meter PLC gardu {gardu} berbagi satu konsentrator).',
    en: 'The concentrator is busy, try again shortly (the PLC meters of gardu {gardu} share one concentrator).',
  },
  'ping.TIMED_OUT': {
    id: 'Head-end belum memberi hasil dalam {s} detik: keadaan meter belum diketahui; coba lagi nanti.',
    en: 'No result from the head-end within {s} s: the state of the meter is not known; try again later.',
  },
  'reason.NO_ANSWER': {
    id: 'tidak menjawab (meter mungkin tanpa suplai atau di luar jangkauan)',
    en: 'no answer (the meter may be without supply or out of reach)',
  },
  'reason.CONCENTRATOR_BUSY': {
    id: 'konsentrator sibuk, coba lagi',
    en: 'concentrator busy, try again',
  },
  'medium.L': { id: 'PLC', en: 'PLC' },
  'medium.R': { id: 'RF', en: 'RF' },
  'medium.S': { id: 'seluler', en: 'cellular' },
  'medium.F': { id: 'serat optik', en: 'fibre' },
  'medium.A': { id: 'AMR', en: 'AMR' },

  // Operator commands from the page
  'cmd.title': { id: 'Perintah jarak jauh (operator)', en: 'Remote command (operator)' },
  'cmd.type': { id: 'Perintah', en: 'Command' },
  'cmd.reason': { id: 'Alasan', en: 'Reason' },
  'cmd.submit': { id: 'Kirim perintah', en: 'Send the command' },
  'cmd.type.DISCONNECT': { id: 'Putus (tusbung)', en: 'Disconnect (tusbung)' },
  'cmd.type.ENABLE_RECONNECT': { id: 'Aktifkan penormalan', en: 'Enable reconnection' },
  'cmd.type.READ_NOW': { id: 'Baca sekarang', en: 'Read now' },
  'cmd.sent': {
    id: 'Perintah {type} terkirim; menunggu head-end…',
    en: 'Command {type} sent; waiting for the head-end…',
  },
  'cmd.refused': { id: 'Perintah ditolak: {message}', en: 'Command refused: {message}' },
  'cmd.result.ACCEPTED': { id: 'Head-end: {type} diterima {time}.', en: 'Head-end: {type} accepted {time}.' },
  'cmd.result.REFUSED': {
    id: 'Head-end: {type} ditolak: {reason}',
    en: 'Head-end: {type} refused: {reason}',
  },
} as const satisfies Record<string, Entry>;

export type MessageKey = keyof typeof MESSAGES;
export type Params = Readonly<Record<string, string | number>>;

/** The message in `lang` with `{name}` replaced by params (a missing param stays visible as `{name}`). */
export function t(lang: Lang, key: MessageKey, params: Params = {}): string {
  return MESSAGES[key][lang].replace(/\{(\w+)\}/g, (m, name: string) =>
    params[name] === undefined ? m : String(params[name]),
  );
}

/** The `{name}` placeholders of a message text. */
export function placeholders(text: string): string[] {
  return [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();
}

export function isLang(v: unknown): v is Lang {
  return typeof v === 'string' && (LANGS as readonly string[]).includes(v);
}

/** The language of a request: `?lang=` first, then the remembered choice (cookie), else Indonesian. */
export function chooseLang(query: unknown, cookie: unknown): Lang {
  if (isLang(query)) return query;
  if (isLang(cookie)) return cookie;
  return DEFAULT_LANG;
}

/** The messages whose keys start with one of `prefixes`, in `lang`: what a page's script needs. */
export function messagesFor(lang: Lang, prefixes: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(MESSAGES) as [string, Entry][])
    if (prefixes.some((p) => k.startsWith(p))) out[k] = v[lang];
  return out;
}

/**
 * Complaint types and sub-types for "KWH METER AMI" calls. The SOP (seed) names the keyword,
 * "APKT KELUHAN (Issue Closed di CC PLN123)", "APKT KELUHAN ke Unit" and "Tipe & Sub Tipe
 * Keluhan", but its list itself is a screen capture of APKT that the text does not carry.
 * So the codes follow the SOP's topics (programme information, objections, reconnection,
 * billing, outages), the Indonesian labels use the SOP's own phrases where it has one
 * ("Program Implementasi Smart Meter AMI", "Lebih Tagih atau Kurang Tagih", "surat tugas"),
 * and the list is data, to be aligned with APKT's when its capture is at hand. The codes are
 * stored in CallRecord: a label may change, a code may not.
 */
export const COMPLAINT_TYPES: Readonly<
  Record<string, { label: Entry; subtypes: Readonly<Record<string, Entry>> }>
> = {
  INFORMASI: {
    label: { id: 'Permintaan informasi', en: 'Request for information' },
    subtypes: {
      PROGRAM_AMI: {
        id: 'Program Implementasi Smart Meter AMI',
        en: 'The smart meter AMI implementation programme',
      },
      BIAYA: { id: 'Biaya (program gratis)', en: 'Cost (the programme is free)' },
      REKENING: { id: 'Pengaruh ke rekening listrik', en: 'Effect on the electricity bill' },
      JADWAL: { id: 'Jadwal / daftar pemasangan', en: 'Installation schedule / list' },
      PETUGAS: {
        id: 'Kebenaran petugas / surat tugas',
        en: 'Whether the officer is genuine / assignment letter',
      },
    },
  },
  KELUHAN_METER: {
    label: { id: 'Keluhan kWh meter AMI', en: 'kWh meter AMI complaint' },
    subtypes: {
      KEBERATAN_PENGGANTIAN: { id: 'Keberatan penggantian meter', en: 'Objects to the meter replacement' },
      PENORMALAN: { id: 'Penormalan setelah tusbung (tombol)', en: 'Reconnection after tusbung (buttons)' },
      TAGIHAN: { id: 'Lebih tagih / kurang tagih', en: 'Over- or under-billed' },
      DISPLAY: { id: 'Tampilan / stand meter', en: 'Display / meter stand' },
    },
  },
  GANGGUAN: {
    label: { id: 'Gangguan / padam', en: 'Fault / outage' },
    subtypes: {
      PADAM: { id: 'Padam (tidak ada tegangan)', en: 'Outage (no voltage)' },
      TRIP_POWER_LIMIT: { id: 'Trip power limit', en: 'Power-limit trip' },
      IML: { id: 'Gangguan instalasi pelanggan (IML)', en: 'Fault in the customer installation (IML)' },
    },
  },
};

export interface FaqEntry {
  id: string;
  q: Entry;
  a: Entry;
}

/** The SOP's FAQ and QnA (seed: CC PLN 123 SOP for the AMI programme), with English beside it. */
export const FAQ: readonly FaqEntry[] = [
  {
    id: 'apa-ami',
    q: { id: 'Apa yang dimaksud Smart Meter AMI?', en: 'What is a smart meter AMI?' },
    a: {
      id: 'kWh meter elektronik dengan teknologi terbaru yang dilengkapi sistem komunikasi digital dua arah yang lebih canggih, akurat dan berkualitas.',
      en: 'An electronic kWh meter of the latest technology with two-way digital communication: more advanced, accurate and reliable.',
    },
  },
  {
    id: 'biaya',
    q: {
      id: 'Apakah pelanggan dikenakan biaya atas program ini?',
      en: 'Does the customer pay for the programme?',
    },
    a: {
      id: 'Tidak. Program ini gratis, pelanggan tidak perlu mengeluarkan biaya apapun.',
      en: 'No. The programme is free: the customer pays nothing.',
    },
  },
  {
    id: 'rekening',
    q: {
      id: 'Apakah Smart Meter AMI mempengaruhi rekening listrik pelanggan?',
      en: 'Does the smart meter AMI change the electricity bill?',
    },
    a: {
      id: 'Tidak berpengaruh. Rekening listrik dipengaruhi oleh penggunaan listrik pelanggan. Program ini juga tidak mempengaruhi IML (Instalasi Milik Pelanggan).',
      en: "No. The bill depends on the customer's use of electricity. The programme does not affect the customer installation (IML) either.",
    },
  },
  {
    id: 'wajib',
    q: {
      id: 'Apakah pembaruan ke Smart Meter AMI diwajibkan?',
      en: 'Is the replacement by a smart meter AMI compulsory?',
    },
    a: {
      id: 'kWh meter di rumah pelanggan adalah aset milik PLN, sehingga PLN berhak dan wajib mengelola dan memeliharanya secara periodik (Permendag No. 68 tahun 2018). Pelanggan dalam daftar unit tetap dipasang meter AMI.',
      en: "The kWh meter at the customer's home is PLN's asset, so PLN has the right and duty to manage and maintain it periodically (Trade Minister Regulation 68/2018). Customers on the unit's list get an AMI meter.",
    },
  },
  {
    id: 'penormalan',
    q: {
      id: 'Bagaimana penyambungan kembali setelah pemutusan (tusbung)?',
      en: 'How is supply reconnected after a disconnection (tusbung)?',
    },
    a: {
      id: 'Pemutusan tidak membongkar APP, dilakukan jarak jauh oleh sistem AMI. Setelah lunas, penormalan dilakukan melalui sistem, lalu petugas/pelanggan menekan tombol atas dan bawah di sebelah kanan meter bersamaan selama 3-5 detik, listrik menyala kembali. Jika pelanggan kesulitan, dibuatkan laporan ke unit dan petugas datang ke lokasi.',
      en: 'Disconnection removes no equipment; the AMI system does it remotely. After payment reconnection is enabled through the system, then the officer or customer presses the up and down buttons on the right of the meter together for 3-5 seconds and power returns. If the customer cannot, a report goes to the unit and an officer comes.',
    },
  },
  {
    id: 'tanggal-20',
    q: {
      id: 'Apakah listrik langsung diputus jika belum membayar sampai tanggal 20?',
      en: 'Is supply cut as soon as the bill is unpaid on the 20th?',
    },
    a: {
      id: 'Tidak otomatis. Daftar pelanggan yang diputus disiapkan bidang Niaga unit masing-masing, pemberitahuan pemutusan sementara (TUL VI-01) tetap disampaikan, dan pemutusan dapat dilakukan mulai tanggal 21.',
      en: "Not automatically. Each unit's commercial section prepares the list, the temporary disconnection notice (TUL VI-01) is still sent, and disconnection may start on the 21st.",
    },
  },
  {
    id: 'padam-vs-tusbung',
    q: {
      id: 'Apa beda padam dari PLN dan pemutusan (tusbung) pada meter AMI?',
      en: 'How does an outage differ from a disconnection (tusbung) on an AMI meter?',
    },
    a: {
      id: 'Dapat dilihat di layar meter AMI. Pemutusan: ada gambar relay open dan meter masih menyala. Padam: layar meter mati karena tidak ada tegangan listrik.',
      en: 'The AMI meter display shows it. Disconnection: the relay-open symbol, the meter still on. Outage: the display is off because there is no voltage.',
    },
  },
  {
    id: 'kdpm',
    q: {
      id: 'Bagaimana membedakan meter AMI, AMR atau bukan?',
      en: 'How to tell an AMI meter from an AMR or other meter?',
    },
    a: {
      id: 'Tidak semua meter elektronik adalah AMI. Cek Kode Pembeda Meter (KDPM) di AP2T dari IDPEL: L AMI PLC, R AMI RF, S AMI seluler, F AMI FO; meter AMR berkode A.',
      en: 'Not every electronic meter is AMI. Check the meter kind code (KDPM) in AP2T by IDPEL: L AMI PLC, R AMI RF, S AMI cellular, F AMI fibre; AMR meters are A.',
    },
  },
  {
    id: 'komunikasi',
    q: {
      id: 'Media komunikasi apa yang dipakai meter AMI, apakah modem?',
      en: 'How does the AMI meter communicate, with a modem?',
    },
    a: {
      id: 'PLC dan RF yang sudah terpasang di meter AMI (tanpa modem eksternal) dan tidak ada biaya bulanan komunikasi.',
      en: 'PLC and RF built into the AMI meter (no external modem), with no monthly communication fee.',
    },
  },
  {
    id: 'cek-pemakaian',
    q: {
      id: 'Bisakah pelanggan melihat pemakaian kWh di meter AMI?',
      en: 'Can the customer see the kWh used on the AMI meter?',
    },
    a: {
      id: 'Tidak. Meter AMI hanya menampilkan angka stand, sama seperti meter pascabayar pada umumnya. Pemakaian real time sedang disiapkan di PLN Mobile.',
      en: 'No. The AMI meter shows only the stand (register), like any postpaid meter. Near real-time use is being prepared in PLN Mobile.',
    },
  },
  {
    id: 'salah-tagih',
    q: {
      id: 'Mungkinkah ada lebih tagih atau kurang tagih dengan meter AMI?',
      en: 'Can an AMI meter over- or under-bill?',
    },
    a: {
      id: 'Tidak ada, kecuali ada input manual atau perhitungan rata-rata (perkiraan).',
      en: 'No, unless a read was entered by hand or estimated (averaged).',
    },
  },
  {
    id: 'petugas',
    q: {
      id: 'Bolehkah pelanggan menolak penggantian jika petugas tidak membawa surat tugas?',
      en: 'May the customer refuse if the officer has no assignment letter?',
    },
    a: {
      id: 'Boleh, karena dikhawatirkan petugas gadungan/tidak resmi.',
      en: 'Yes: the officer may not be genuine.',
    },
  },
  {
    id: 'catat-meter',
    q: {
      id: 'Apakah petugas catat meter masih datang setiap bulan?',
      en: 'Does the meter reader still come every month?',
    },
    a: {
      id: 'Tidak perlu, karena meter AMI membaca pemakaian otomatis ke sistem PLN. Petugas hanya datang untuk pemeliharaan atau bila ada anomali atau gangguan komunikasi.',
      en: "No: the AMI meter sends its reads to PLN's system automatically. Officers come only for maintenance, anomalies or communication faults.",
    },
  },
  {
    id: 'last-gasp',
    q: { id: 'Apa itu fitur Last Gasp?', en: 'What is the last gasp feature?' },
    a: {
      id: 'Meter AMI menyampaikan informasi ke sistem AMI apabila pelanggan padam, sehingga gangguan dapat dideteksi lebih awal dan penanganan lebih cepat.',
      en: 'The AMI meter tells the AMI system when the customer loses supply, so outages are detected early and handled faster.',
    },
  },
  {
    id: 'power-limit',
    q: { id: 'Apa itu fitur Power Limit?', en: 'What is the power limit feature?' },
    a: {
      id: 'Pembatasan daya dapat dilakukan jarak jauh melalui setting power limit di meter AMI (misal MCB 10A: 450 VA s.d 2200 VA). Jika beban melebihi batas, relay trip.',
      en: 'The power can be limited remotely by the power-limit setting of the AMI meter (e.g. behind a 10 A MCB: 450 to 2,200 VA). A load above the limit trips the relay.',
    },
  },
];

/** FAQ entries whose question or answer (either language) contains every word of `query`. */
export function searchFaq(query: string): FaqEntry[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [...FAQ];
  return FAQ.filter((f) => {
    const hay = `${f.q.id} ${f.a.id} ${f.q.en} ${f.a.en}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

/** A message to show later in the reader's language: `keys` are params that are themselves messages. */
export interface Localized {
  key: MessageKey;
  params?: Params;
  keys?: Readonly<Record<string, MessageKey>>;
}

export function render(lang: Lang, m: Localized): string {
  const nested = Object.fromEntries(
    Object.entries(m.keys ?? {}).map(([name, key]) => [name, t(lang, key, m.params)]),
  );
  return t(lang, m.key, { ...m.params, ...nested });
}

"""Synthetic care offers for the benchmarks: N offers, seeded, written as JSON Lines in the corpus schema.

Contract: ``generate(n, seed)`` returns ``(centres, offers)`` as corpus records (dicts with their
``type``) and ``write_corpus(n, seed, directory)`` writes them as ``centres.jsonl`` and
``offers-NNNN.jsonl`` shards (each well under the corpus reader's 50 MiB limit), so
``carematch index DIRECTORY`` and ``search.indexer.build_index([DIRECTORY], ...)`` ingest them
unchanged. Same ``n``, ``seed`` and terminology -> byte-identical files.

What makes the texts realistic: the pathologies are the terminology's own concepts (their
ICD-10 codes, their ``pref`` label in each language and a few of their lay/clinical aliases,
read from ``corpus/terminology/lexicon/*.tsv``), drawn with the frequencies the bundled corpus
has (``corpus/centres``: a concept listed by many bundled offers is drawn more often); services,
age groups, delivery, text languages and offer counts per centre follow the bundled corpus's
proportions; the sentences follow its phrasing (same services, same shapes, ~200 characters of
description, fr + en always, es/ar/de/it/ru/zh/pt/nl as often as there). Labels are joined with a
dash or colon rather than inflected, so no grammar is invented.

Centres are fictional ("Centre d'oncologie synthétique 0042"), in real French cities with their
real regions, with a reserved example.org web site: nothing here describes a real institution.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

GENERATOR_VERSION = 1
SHARD_OFFERS = 5000
ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "corpus" / "centres"

# (city, region): real French cities and their (2016) regions
CITIES = (
    ("Paris", "Île-de-France"), ("Villejuif", "Île-de-France"), ("Lyon", "Auvergne-Rhône-Alpes"),
    ("Grenoble", "Auvergne-Rhône-Alpes"), ("Clermont-Ferrand", "Auvergne-Rhône-Alpes"),
    ("Saint-Étienne", "Auvergne-Rhône-Alpes"), ("Marseille", "Provence-Alpes-Côte d'Azur"),
    ("Nice", "Provence-Alpes-Côte d'Azur"), ("Toulouse", "Occitanie"), ("Montpellier", "Occitanie"),
    ("Bordeaux", "Nouvelle-Aquitaine"), ("Poitiers", "Nouvelle-Aquitaine"), ("Limoges", "Nouvelle-Aquitaine"),
    ("Nantes", "Pays de la Loire"), ("Angers", "Pays de la Loire"), ("Rennes", "Bretagne"),
    ("Brest", "Bretagne"), ("Lille", "Hauts-de-France"), ("Amiens", "Hauts-de-France"),
    ("Rouen", "Normandie"), ("Caen", "Normandie"), ("Strasbourg", "Grand Est"), ("Reims", "Grand Est"),
    ("Nancy", "Grand Est"), ("Dijon", "Bourgogne-Franche-Comté"), ("Besançon", "Bourgogne-Franche-Comté"),
    ("Tours", "Centre-Val de Loire"), ("Orléans", "Centre-Val de Loire"), ("Ajaccio", "Corse"),
)
KINDS = (("cancer_centre", 40), ("university_hospital", 35), ("private_hospital", 20), ("general_hospital", 5))
# services as often as in the bundled corpus (international offices: one per centre, below)
SERVICES = (("treatment", 228), ("second_opinion", 32), ("training", 26), ("teleconsultation", 21),
            ("clinical_trials", 21), ("diagnostics", 18))
# extra text languages beyond fr + en, with their share of bundled offers
EXTRA_TEXT = (("es", 0.24), ("ar", 0.19), ("de", 0.14), ("it", 0.13), ("ru", 0.11), ("zh", 0.05),
              ("pt", 0.035), ("nl", 0.01))
OFFICE_EXTRA = ("es", "ar", "ru", "de", "it", "pt", "zh", "tr")
GENERAL_SHARE = 0.12     # offers for "all cancers" (C00-C97), as in the bundled corpus
GENERAL_RANGE = "C00-C97"
HAEM = frozenset(f"C{n}" for n in range(81, 97))  # lymphoid, haematopoietic and related tissue
CITY_LANGS = frozenset({"fr", "en", "es", "de", "it", "pt", "nl"})  # texts that name the city as written in French

# Per language: title and description templates per service; {L} the pathology label(s),
# {Lc} the same capitalised, {A} a parenthesis of aliases (or nothing), {C} the city.
TEXTS: dict[str, dict] = {
    "fr": {
        "treatment": (("{Lc} : traitement et suivi", "Prise en charge — {L}"),
                      ("Diagnostic, chirurgie, radiothérapie et traitements médicaux — {L}{A} — décidés en réunion de concertation pluridisciplinaire, à {C}.",
                       "Consultation spécialisée, bilan et plan de traitement personnalisé — {L}{A}. Le suivi après traitement est organisé avec votre médecin.")),
        "second_opinion": (("Second avis à distance — {L}",),
                           ("Des spécialistes étudient votre dossier (comptes rendus, imagerie, biopsie) et vous adressent un avis écrit sur le diagnostic et le traitement proposé — {L}{A} — sans déplacement.",)),
        "teleconsultation": (("Téléconsultation — {L}",),
                             ("Consultation vidéo avec un spécialiste — {L}{A} — avant une venue en France ou pour le suivi après traitement.",)),
        "training": (("Formation des professionnels de santé — {L}",),
                     ("Enseignement et stages d'observation pour médecins et soignants étrangers — {L}{A} : chirurgie, traitements médicaux, soins infirmiers.",)),
        "clinical_trials": (("Essais cliniques — {L}",),
                            ("Accès aux essais cliniques de phase précoce et aux nouveaux traitements — {L}{A} — après étude du dossier par l'équipe de recherche clinique.",)),
        "diagnostics": (("Bilan diagnostique — {L}",),
                        ("Imagerie, biopsie, anatomopathologie et biologie moléculaire pour confirmer le diagnostic — {L}{A} — et préparer le traitement.",)),
        "international_office": (("Accueil des patients internationaux",),
                                 ("Le service des patients internationaux étudie le dossier médical envoyé depuis l'étranger, organise les rendez-vous à {C} et accompagne le séjour du patient et de sa famille.",)),
        "general": "tous les cancers",
        "children": "Les enfants et les adolescents sont pris en charge par une équipe pédiatrique.",
        "generic": ("Chaque dossier est discuté en réunion de concertation pluridisciplinaire.",
                    "Merci d'envoyer vos comptes rendus médicaux, votre imagerie et les résultats de biopsie.",
                    "Le service des patients internationaux vous aide à organiser votre séjour."),
    },
    "en": {
        "treatment": (("{Lc}: treatment and follow-up", "Treatment — {L}"),
                      ("Diagnosis, surgery, radiotherapy and systemic treatment — {L}{A} — decided by a multidisciplinary tumour board in {C}.",
                       "Specialist consultation, work-up and a personalised treatment plan — {L}{A}. Follow-up after treatment is arranged with your own doctor.")),
        "second_opinion": (("Remote second opinion — {L}",),
                           ("Specialists review your file (reports, imaging, biopsy) and send you a written opinion on the diagnosis and the proposed treatment — {L}{A} — without travelling.",)),
        "teleconsultation": (("Teleconsultation — {L}",),
                             ("Video consultation with a specialist — {L}{A} — before coming to France or for follow-up after treatment.",)),
        "training": (("Training for health professionals — {L}",),
                     ("Teaching and observership placements for doctors and nurses from abroad — {L}{A}: surgery, systemic treatment, nursing care.",)),
        "clinical_trials": (("Clinical trials — {L}",),
                            ("Access to early-phase clinical trials and new treatments — {L}{A} — after the clinical research team has reviewed your file.",)),
        "diagnostics": (("Diagnostic work-up — {L}",),
                        ("Imaging, biopsy, pathology and molecular testing to confirm the diagnosis — {L}{A} — and plan the treatment.",)),
        "international_office": (("International patient office",),
                                 ("The international patient office reviews the medical file sent from abroad, arranges appointments in {C} and supports the stay of patients and their families.",)),
        "general": "all cancers",
        "children": "Children and adolescents are cared for by a paediatric team.",
        "generic": ("Each case is discussed by a multidisciplinary tumour board.",
                    "Please send your medical reports, imaging and biopsy results.",
                    "The international patient office helps you organise your stay."),
    },
    "es": {
        "treatment": (("{Lc}: tratamiento y seguimiento", "Tratamiento — {L}"),
                      ("Diagnóstico, cirugía, radioterapia y tratamientos médicos — {L}{A} — decididos por un comité multidisciplinar, en {C}.",
                       "Consulta especializada, estudio y plan de tratamiento personalizado — {L}{A}. El seguimiento tras el tratamiento se organiza con su médico.")),
        "second_opinion": (("Segunda opinión a distancia — {L}",),
                           ("Especialistas estudian su historial (informes, imágenes, biopsia) y le envían una opinión escrita sobre el diagnóstico y el tratamiento propuesto — {L}{A} — sin desplazarse.",)),
        "teleconsultation": (("Teleconsulta — {L}",),
                             ("Consulta por vídeo con un especialista — {L}{A} — antes de viajar a Francia o para el seguimiento tras el tratamiento.",)),
        "training": (("Formación de profesionales sanitarios — {L}",),
                     ("Enseñanza y estancias de observación para médicos y enfermeros extranjeros — {L}{A}: cirugía, tratamientos médicos, cuidados de enfermería.",)),
        "clinical_trials": (("Ensayos clínicos — {L}",),
                            ("Acceso a ensayos clínicos de fase temprana y a nuevos tratamientos — {L}{A} — tras el estudio del historial por el equipo de investigación clínica.",)),
        "diagnostics": (("Estudio diagnóstico — {L}",),
                        ("Imagen, biopsia, anatomía patológica y pruebas moleculares para confirmar el diagnóstico — {L}{A} — y planificar el tratamiento.",)),
        "international_office": (("Oficina de pacientes internacionales",),
                                 ("La oficina de pacientes internacionales estudia el historial médico enviado desde el extranjero, organiza las citas en {C} y acompaña la estancia del paciente y su familia.",)),
        "general": "todos los cánceres",
        "children": "Los niños y adolescentes son atendidos por un equipo pediátrico.",
        "generic": ("Cada caso se discute en un comité multidisciplinar.",
                    "Envíe sus informes médicos, sus imágenes y los resultados de la biopsia.",
                    "La oficina de pacientes internacionales le ayuda a organizar su estancia."),
    },
    "de": {
        "treatment": (("{Lc}: Behandlung und Nachsorge", "Behandlung — {L}"),
                      ("Diagnostik, Operation, Strahlentherapie und medikamentöse Therapie — {L}{A} — festgelegt in einer interdisziplinären Tumorkonferenz, in {C}.",
                       "Fachärztliche Sprechstunde, Abklärung und individueller Behandlungsplan — {L}{A}. Die Nachsorge wird mit Ihrem Arzt abgestimmt.")),
        "second_opinion": (("Zweitmeinung aus der Ferne — {L}",),
                           ("Fachärzte prüfen Ihre Unterlagen (Befunde, Bildgebung, Biopsie) und senden Ihnen eine schriftliche Stellungnahme zur Diagnose und zur vorgeschlagenen Behandlung — {L}{A} — ohne Anreise.",)),
        "teleconsultation": (("Telekonsultation — {L}",),
                             ("Videosprechstunde mit einem Facharzt — {L}{A} — vor einer Reise nach Frankreich oder zur Nachsorge nach der Behandlung.",)),
        "training": (("Fortbildung für Ärzte und Pflegekräfte — {L}",),
                     ("Lehre und Hospitationen für ausländische Ärzte und Pflegekräfte — {L}{A}: Chirurgie, medikamentöse Therapie, Pflege.",)),
        "clinical_trials": (("Klinische Studien — {L}",),
                            ("Zugang zu frühen klinischen Studien und neuen Therapien — {L}{A} — nach Prüfung der Unterlagen durch das Team für klinische Forschung.",)),
        "diagnostics": (("Diagnostische Abklärung — {L}",),
                        ("Bildgebung, Biopsie, Pathologie und molekulare Diagnostik zur Sicherung der Diagnose — {L}{A} — und zur Planung der Behandlung.",)),
        "international_office": (("Büro für internationale Patienten",),
                                 ("Das Büro für internationale Patienten prüft die aus dem Ausland gesandten medizinischen Unterlagen, vereinbart Termine in {C} und begleitet den Aufenthalt von Patienten und Angehörigen.",)),
        "general": "alle Krebserkrankungen",
        "children": "Kinder und Jugendliche werden von einem pädiatrischen Team betreut.",
        "generic": ("Jeder Fall wird in einer interdisziplinären Tumorkonferenz besprochen.",
                    "Bitte senden Sie Ihre Arztberichte, Bilder und Biopsieergebnisse.",
                    "Das Büro für internationale Patienten hilft Ihnen bei der Organisation Ihres Aufenthalts."),
    },
    "it": {
        "treatment": (("{Lc}: cura e follow-up", "Trattamento — {L}"),
                      ("Diagnosi, chirurgia, radioterapia e terapie mediche — {L}{A} — decise da un gruppo multidisciplinare, a {C}.",
                       "Visita specialistica, accertamenti e piano di cura personalizzato — {L}{A}. Il follow-up dopo il trattamento è organizzato con il suo medico.")),
        "second_opinion": (("Secondo parere a distanza — {L}",),
                           ("Specialisti esaminano la sua documentazione (referti, immagini, biopsia) e le inviano un parere scritto sulla diagnosi e sul trattamento proposto — {L}{A} — senza spostarsi.",)),
        "teleconsultation": (("Teleconsulto — {L}",),
                             ("Visita in video con uno specialista — {L}{A} — prima di venire in Francia o per il follow-up dopo il trattamento.",)),
        "training": (("Formazione per professionisti sanitari — {L}",),
                     ("Insegnamento e stage di osservazione per medici e infermieri stranieri — {L}{A}: chirurgia, terapie mediche, assistenza infermieristica.",)),
        "clinical_trials": (("Studi clinici — {L}",),
                            ("Accesso a studi clinici di fase precoce e a nuovi trattamenti — {L}{A} — dopo l'esame della documentazione da parte del gruppo di ricerca clinica.",)),
        "diagnostics": (("Percorso diagnostico — {L}",),
                        ("Imaging, biopsia, anatomia patologica e test molecolari per confermare la diagnosi — {L}{A} — e pianificare il trattamento.",)),
        "international_office": (("Ufficio pazienti internazionali",),
                                 ("L'ufficio pazienti internazionali esamina la documentazione medica inviata dall'estero, organizza gli appuntamenti a {C} e accompagna il soggiorno del paziente e della sua famiglia.",)),
        "general": "tutti i tumori",
        "children": "Bambini e adolescenti sono seguiti da un'équipe pediatrica.",
        "generic": ("Ogni caso è discusso da un gruppo multidisciplinare.",
                    "Invii i referti medici, le immagini e i risultati della biopsia.",
                    "L'ufficio pazienti internazionali la aiuta a organizzare il soggiorno."),
    },
    "pt": {
        "treatment": (("{Lc}: tratamento e acompanhamento", "Tratamento — {L}"),
                      ("Diagnóstico, cirurgia, radioterapia e tratamentos médicos — {L}{A} — decididos em reunião multidisciplinar, em {C}.",
                       "Consulta especializada, exames e plano de tratamento personalizado — {L}{A}. O acompanhamento após o tratamento é organizado com o seu médico.")),
        "second_opinion": (("Segunda opinião à distância — {L}",),
                           ("Especialistas analisam o seu processo clínico (relatórios, exames de imagem, biópsia) e enviam-lhe um parecer escrito sobre o diagnóstico e o tratamento proposto — {L}{A} — sem necessidade de deslocação.",)),
        "teleconsultation": (("Teleconsulta — {L}",),
                             ("Consulta por vídeo com um especialista — {L}{A} — antes de vir para França ou para o acompanhamento após o tratamento.",)),
        "training": (("Formação de profissionais de saúde — {L}",),
                     ("Ensino e estágios de observação para médicos e enfermeiros estrangeiros — {L}{A}: cirurgia, tratamentos médicos, cuidados de enfermagem.",)),
        "clinical_trials": (("Ensaios clínicos — {L}",),
                            ("Acesso a ensaios clínicos de fase precoce e a novos tratamentos — {L}{A} — após análise do processo pela equipa de investigação clínica.",)),
        "diagnostics": (("Avaliação diagnóstica — {L}",),
                        ("Imagiologia, biópsia, anatomia patológica e testes moleculares para confirmar o diagnóstico — {L}{A} — e planear o tratamento.",)),
        "international_office": (("Atendimento a pacientes internacionais",),
                                 ("O serviço de pacientes internacionais analisa o processo clínico enviado do estrangeiro, organiza as consultas em {C} e acompanha a estadia do paciente e da sua família.",)),
        "general": "todos os tipos de cancro",
        "children": "Crianças e adolescentes são acompanhados por uma equipa pediátrica.",
        "generic": ("Cada caso é discutido em reunião multidisciplinar.",
                    "Envie os seus relatórios médicos, exames de imagem e resultados da biópsia.",
                    "O serviço de pacientes internacionais ajuda a organizar a sua estadia."),
    },
    "nl": {
        "treatment": (("{Lc}: behandeling en nazorg", "Behandeling — {L}"),
                      ("Diagnostiek, chirurgie, radiotherapie en medicamenteuze behandeling — {L}{A} — besproken in een multidisciplinair overleg, in {C}.",
                       "Specialistisch consult, onderzoek en een persoonlijk behandelplan — {L}{A}. De nazorg wordt met uw eigen arts afgestemd.")),
        "second_opinion": (("Second opinion op afstand — {L}",),
                           ("Specialisten bekijken uw medisch dossier (verslagen, beeldvorming, biopsie) en sturen u een schriftelijk advies over de diagnose en de voorgestelde behandeling — {L}{A} — zonder te reizen.",)),
        "teleconsultation": (("Teleconsult — {L}",),
                             ("Videoconsult met een specialist — {L}{A} — voordat u naar Frankrijk komt of voor de nazorg na de behandeling.",)),
        "training": (("Opleiding voor zorgprofessionals — {L}",),
                     ("Onderwijs en observatiestages voor buitenlandse artsen en verpleegkundigen — {L}{A}: chirurgie, medicamenteuze behandeling, verpleegkundige zorg.",)),
        "clinical_trials": (("Klinische studies — {L}",),
                            ("Toegang tot vroege klinische studies en nieuwe behandelingen — {L}{A} — nadat het team voor klinisch onderzoek uw dossier heeft bekeken.",)),
        "diagnostics": (("Diagnostisch onderzoek — {L}",),
                        ("Beeldvorming, biopsie, pathologie en moleculair onderzoek om de diagnose te bevestigen — {L}{A} — en de behandeling te plannen.",)),
        "international_office": (("Bureau voor internationale patiënten",),
                                 ("Het bureau voor internationale patiënten bekijkt het medisch dossier uit het buitenland, regelt afspraken in {C} en begeleidt het verblijf van patiënten en hun familie.",)),
        "general": "alle soorten kanker",
        "children": "Kinderen en jongeren worden behandeld door een kinderoncologisch team.",
        "generic": ("Elk dossier wordt besproken in een multidisciplinair overleg.",
                    "Stuur uw medische verslagen, beelden en biopsie-uitslagen mee.",
                    "Het bureau voor internationale patiënten helpt u uw verblijf te regelen."),
    },
    "ru": {
        "treatment": (("{Lc}: лечение и наблюдение", "Лечение — {L}"),
                      ("Диагностика, хирургическое лечение, лучевая и лекарственная терапия — {L}{A}; решение о лечении принимает междисциплинарный консилиум.",
                       "Консультация специалиста, обследование и индивидуальный план лечения — {L}{A}. Наблюдение после лечения согласуется с вашим лечащим врачом.")),
        "second_opinion": (("Второе мнение дистанционно — {L}",),
                           ("Специалисты изучают вашу медицинскую документацию (заключения, снимки, биопсию) и присылают письменное заключение о диагнозе и предложенном лечении — {L}{A} — без поездки.",)),
        "teleconsultation": (("Телеконсультация — {L}",),
                             ("Видеоконсультация со специалистом — {L}{A} — перед поездкой во Францию или для наблюдения после лечения.",)),
        "training": (("Обучение медицинских специалистов — {L}",),
                     ("Обучение и стажировки для иностранных врачей и медсестёр — {L}{A}: хирургия, лекарственная терапия, сестринский уход.",)),
        "clinical_trials": (("Клинические исследования — {L}",),
                            ("Доступ к ранним фазам клинических исследований и новым методам лечения — {L}{A} — после изучения документации командой клинических исследований.",)),
        "diagnostics": (("Диагностическое обследование — {L}",),
                        ("Визуализация, биопсия, патоморфологическое и молекулярное исследование для подтверждения диагноза — {L}{A} — и планирования лечения.",)),
        "international_office": (("Отдел по работе с иностранными пациентами",),
                                 ("Отдел по работе с иностранными пациентами изучает медицинскую документацию, присланную из-за рубежа, организует приём и сопровождает пребывание пациента и его семьи.",)),
        "general": "все виды рака",
        "children": "Детьми и подростками занимается педиатрическая команда.",
        "generic": ("Каждый случай обсуждается на междисциплинарном консилиуме.",
                    "Пришлите, пожалуйста, медицинские заключения, снимки и результаты биопсии.",
                    "Отдел по работе с иностранными пациентами поможет организовать ваше пребывание."),
    },
    "ar": {
        "treatment": (("{L}: العلاج والمتابعة", "علاج — {L}"),
                      ("التشخيص والجراحة والعلاج الإشعاعي والعلاجات الدوائية — {L}{A} — بقرار من اجتماع متعدد التخصصات.",
                       "استشارة تخصصية وفحوص وخطة علاج شخصية — {L}{A}. تُنظَّم المتابعة بعد العلاج بالتنسيق مع طبيبك.")),
        "second_opinion": (("رأي طبي ثانٍ عن بُعد — {L}",),
                           ("يدرس أطباء متخصصون ملفك الطبي (التقارير والصور الطبية والخزعة) ويرسلون إليك رأياً مكتوباً في التشخيص والعلاج المقترح — {L}{A} — دون الحاجة إلى السفر.",)),
        "teleconsultation": (("استشارة عن بُعد — {L}",),
                             ("استشارة بالفيديو مع طبيب متخصص — {L}{A} — قبل القدوم إلى فرنسا أو للمتابعة بعد العلاج.",)),
        "training": (("تدريب المهنيين الصحيين — {L}",),
                     ("تعليم وتدريب بالمراقبة للأطباء والممرضين الأجانب — {L}{A}: الجراحة والعلاجات الدوائية والرعاية التمريضية.",)),
        "clinical_trials": (("التجارب السريرية — {L}",),
                            ("الوصول إلى التجارب السريرية في مراحلها المبكرة وإلى العلاجات الجديدة — {L}{A} — بعد دراسة الملف من قبل فريق البحث السريري.",)),
        "diagnostics": (("الفحوص التشخيصية — {L}",),
                        ("التصوير الطبي والخزعة والتشريح المرضي والفحوص الجزيئية لتأكيد التشخيص — {L}{A} — وتخطيط العلاج.",)),
        "international_office": (("مكتب المرضى الدوليين",),
                                 ("يدرس مكتب المرضى الدوليين الملف الطبي المرسل من الخارج، وينظم المواعيد ويرافق المريض وعائلته خلال الإقامة.",)),
        "general": "جميع أنواع السرطان",
        "children": "يتولى فريق طب الأطفال رعاية الأطفال والمراهقين.",
        "generic": ("تُناقش كل حالة في اجتماع متعدد التخصصات.",
                    "يرجى إرسال التقارير الطبية والصور الطبية ونتائج الخزعة.",
                    "يساعدك مكتب المرضى الدوليين في تنظيم إقامتك."),
    },
    "zh": {
        "treatment": (("{L}：治疗与随访", "诊疗 — {L}"),
                      ("诊断、手术、放疗及药物治疗 — {L}{A} — 由多学科会诊确定治疗方案。",
                       "专科门诊、检查及个体化治疗方案 — {L}{A}。治疗后的随访与您的主治医生协调安排。")),
        "second_opinion": (("远程第二诊疗意见 — {L}",),
                           ("专科医生审阅您的病历资料（报告、影像、活检），并就诊断和拟议治疗方案出具书面意见 — {L}{A} — 无需出行。",)),
        "teleconsultation": (("远程会诊 — {L}",),
                             ("与专科医生视频会诊 — {L}{A} — 适用于来法国就医前或治疗后的随访。",)),
        "training": (("医务人员培训 — {L}",),
                     ("面向外国医生和护士的教学与观摩进修 — {L}{A}：外科手术、药物治疗、护理。",)),
        "clinical_trials": (("临床试验 — {L}",),
                            ("参加早期临床试验、获得新疗法 — {L}{A} — 须经临床研究团队审阅病历。",)),
        "diagnostics": (("诊断检查 — {L}",),
                        ("影像学、活检、病理及分子检测，以明确诊断 — {L}{A} — 并制定治疗方案。",)),
        "international_office": (("国际患者服务",),
                                 ("国际患者服务部审阅从国外寄来的病历，安排就诊预约，并协助患者及家属在法期间的行程。",)),
        "general": "各类癌症",
        "children": "儿童和青少年由儿科团队负责诊治。",
        "generic": ("每个病例均经多学科会诊讨论。",
                    "请提供病历报告、影像资料和活检结果。",
                    "国际患者服务部协助您安排在法期间的行程。"),
    },
}
LIST_SEP = {"zh": "、", "ar": "، "}
PARENS = {"zh": ("（", "）")}
SENTENCE_SEP = {"zh": ""}


def _weighted(rng: random.Random, pairs) -> str:
    values, weights = zip(*pairs)
    return rng.choices(values, weights=weights, k=1)[0]


def _inflection(alias: str, label: str) -> bool:
    """Whether ``alias`` is ``label`` or an inflected form of it ("sarcomas", "саркомы Юинга"):
    not worth listing beside it.

    >>> _inflection("саркомы Юинга", "саркома Юинга"), _inflection("leiomyosarcoma", "sarcoma")
    (True, False)
    """
    a, b = alias.casefold().split(), label.casefold().split()
    if len(a) != len(b):
        return False
    return all(x == y or (min(len(x), len(y)) >= 4 and x[:max(4, min(len(x), len(y)) - 2)] == y[:max(4, min(len(x), len(y)) - 2)])
               for x, y in zip(a, b))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


class _Vocabulary:
    """The terminology's concepts as the generator draws them: codes, flags, labels, aliases."""

    def __init__(self, terminology=None) -> None:
        from search.icd10 import categories
        from search.terminology import default_terminology

        term = terminology or default_terminology()
        self.digest = term.digest
        langs = set(TEXTS)
        aliases: dict[tuple[str, str], list[str]] = {}
        for path in sorted((term.root / "lexicon").glob("*.tsv")):
            if path.name == "heads.tsv":
                continue
            for line in path.read_text(encoding="utf-8").splitlines():
                cols = line.split("\t")
                if len(cols) == 4 and not line.startswith("#") and cols[3].strip() in ("lay", "clinical", "eponym"):
                    cid, lang, text = cols[0].strip(), cols[1].strip(), cols[2].strip()
                    if lang in langs and text:
                        aliases.setdefault((cid, lang), []).append(text)
        self.aliases = {k: sorted(set(v)) for k, v in aliases.items()}
        # concepts with a label in every language the generator writes
        self.concepts = sorted((c for c in term.concepts.values() if langs <= set(c.labels)), key=lambda c: c.id)
        if not self.concepts:
            raise RuntimeError("the terminology has no concept labelled in " + ", ".join(sorted(langs)))
        # how often the bundled corpus lists each concept's codes: popular pathologies come up more
        listed: Counter[str] = Counter()
        try:
            from search.corpus import check_corpus
            bundled, _ = check_corpus([BUNDLED])
            for offer in bundled.offers:
                listed.update(offer.icd10)
        except Exception:  # noqa: BLE001 - the bundled corpus only tunes the weights
            pass
        self.weights = [1 + sum(listed[code] for code in c.icd10) for c in self.concepts]
        self.categories = {c.id: categories(c.icd10[0]) for c in self.concepts}


_VOCABULARIES: dict[int, _Vocabulary] = {}


def _vocabulary(terminology=None) -> _Vocabulary:
    """One vocabulary per terminology object and process (the default one is loaded once)."""
    if terminology is None:
        from search.terminology import default_terminology
        terminology = default_terminology()
    key = id(terminology)
    if key not in _VOCABULARIES:
        _VOCABULARIES[key] = _Vocabulary(terminology)
    return _VOCABULARIES[key]


def generate(n: int, seed: int = 1, terminology=None) -> tuple[list[dict], list[dict]]:
    """``n`` offers and their centres as corpus records (``type`` = centre / offer)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    vocab = _vocabulary(terminology)
    rng = random.Random(f"carematch-bench-{seed}-{n}")
    n_centres = max(1, round(n / 14))  # ~14 offers per centre, as in the bundled corpus
    centres = []
    for i in range(n_centres):
        city, region = CITIES[rng.randrange(len(CITIES))]
        kind = _weighted(rng, KINDS)
        networks = []
        if kind == "cancer_centre" and rng.random() < 0.6:
            networks.append("Unicancer")
        for net, p in (("OECI", 0.15), ("EURACAN", 0.1), ("NETSARC", 0.1), ("PAEDCAN", 0.06)):
            if rng.random() < p:
                networks.append(net)
        office = ["fr", "en"] + sorted(rng.sample(OFFICE_EXTRA, rng.choice((0, 1, 1, 2, 3, 4))))
        cid = f"bench-centre-{i + 1:05d}"
        centres.append({"type": "centre", "id": cid, "name": f"Centre d'oncologie synthétique {i + 1:05d}",
                        "city": city, "region": region, "country": "FR", "kind": kind, "networks": networks,
                        "website": f"https://example.org/carematch-bench/{cid}", "office_languages": office})
    offers = []
    for i in range(n):
        centre = centres[i % n_centres]
        service = "international_office" if i < n_centres else _weighted(rng, SERVICES)
        offers.append(_offer(rng, vocab, centre, i, service))
    return centres, offers


def _offer(rng: random.Random, vocab: _Vocabulary, centre: dict, i: int, service: str) -> dict:
    langs = ["fr", "en"] + [lg for lg, p in EXTRA_TEXT if rng.random() < p]
    concepts = []
    if service == "international_office":
        icd10, age = [], ["adult", "pediatric"]
    elif rng.random() < GENERAL_SHARE:
        icd10, age = [GENERAL_RANGE], ["adult"] if rng.random() < 0.8 else ["adult", "pediatric"]
    else:
        k = rng.choices((1, 2, 3), weights=(70, 20, 10), k=1)[0]
        for c in rng.choices(vocab.concepts, weights=vocab.weights, k=k):
            if c not in concepts and not any(vocab.categories[c.id] & vocab.categories[d.id] for d in concepts):
                concepts.append(c)
        icd10 = list(dict.fromkeys(code for c in concepts for code in c.icd10))
        if any("pediatric" in c.flags for c in concepts):
            age = ["pediatric"] if rng.random() < 0.7 else ["adult", "pediatric"]
        else:
            r = rng.random()
            age = ["adult"] if r < 0.9 else (["adult", "pediatric"] if r < 0.97 else ["pediatric"])
    spoken = list(dict.fromkeys(langs + [lg for lg in centre["office_languages"] if rng.random() < 0.3]))
    delivery = {"second_opinion": "remote", "teleconsultation": "remote",
                "international_office": "on_site_and_remote", "training": "on_site"}.get(
        service, "on_site_and_remote" if rng.random() < 0.1 else "on_site")
    networks = []
    if any("rare" in c.flags for c in concepts) and rng.random() < 0.5:
        networks.append(rng.choice(("EURACAN", "NETSARC")))
    if "pediatric" in age and concepts and rng.random() < 0.5:
        networks.append("PAEDCAN")
    haem = any(c.categories & HAEM for c in concepts)
    text = {}
    title_pick, desc_pick = rng.random(), rng.random()
    generic_pick, alias_pick = rng.random(), rng.random()
    for lang in langs:
        t = TEXTS[lang]
        if concepts:
            label = LIST_SEP.get(lang, ", ").join(c.labels[lang] for c in concepts)
            pool = vocab.aliases.get((concepts[0].id, lang), [])
            extra = [a for a in pool if not _inflection(a, concepts[0].labels[lang])]
        else:
            label, extra = t["general"], []
        alias_text = ""
        if extra and alias_pick < 0.6:
            picked = sorted({extra[(i + j) % len(extra)] for j in range(2)})
            o, c = PARENS.get(lang, (" (", ")"))
            alias_text = o + LIST_SEP.get(lang, ", ").join(picked) + c
        titles, descs = t[service]
        fill = {"L": label, "Lc": _cap(label), "A": alias_text,
                "C": centre["city"] if lang in CITY_LANGS else ""}
        title = titles[int(title_pick * len(titles))].format(**fill)
        d = int(desc_pick * len(descs))
        if haem and service == "treatment":
            d = len(descs) - 1  # the consultation / work-up phrasing: no surgery for blood cancers
        sentences = [descs[d].format(**fill)]
        if age == ["pediatric"] or ("pediatric" in age and concepts):
            sentences.append(t["children"])
        if generic_pick < 0.5 and service != "international_office" and not (service == "treatment" and d == 0 and generic_pick < 1 / 6):
            # (the first generic sentence repeats the board of the first treatment phrasing)
            sentences.append(t["generic"][int(generic_pick * 2 * len(t["generic"]))])
        text[lang] = {"title": title, "description": SENTENCE_SEP.get(lang, " ").join(sentences)}
    offer = {"type": "offer", "centre": centre["id"], "id": f"{centre['id']}-{i + 1:06d}", "service": service,
             "icd10": icd10, "age_groups": age, "languages": spoken, "delivery": delivery, "text": text}
    if service == "second_opinion":
        offer["turnaround_days"] = rng.choice((7, 10, 14, 21))
    if networks:
        offer["networks"] = networks
    return offer


def write_corpus(n: int, seed: int, directory: str | Path, terminology=None) -> list[Path]:
    """Write ``n`` offers (and their centres) as JSON Lines under ``directory``; return the files."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.jsonl"):
        old.unlink()
    centres, offers = generate(n, seed, terminology)
    files = [directory / "centres.jsonl"]
    _write_lines(files[0], centres)
    for k in range(0, len(offers), SHARD_OFFERS):
        files.append(directory / f"offers-{k // SHARD_OFFERS:04d}.jsonl")
        _write_lines(files[-1], offers[k:k + SHARD_OFFERS])
    return files


def _write_lines(path: Path, records: list[dict]) -> None:
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write N synthetic care offers as JSON Lines (corpus schema v1).")
    ap.add_argument("--offers", type=int, default=1000, help="number of offers (default 1000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True, help="directory to write centres.jsonl and offers-*.jsonl into")
    args = ap.parse_args(argv)
    files = write_corpus(args.offers, args.seed, args.out)
    print(f"wrote {args.offers} offers in {len(files)} files under {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

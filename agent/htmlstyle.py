"""The one base style of egov-agent's HTML pages (the status page and the audit report):
type, links, tables, numbers and the coloured badge; each page adds only its own rules."""

BASE_STYLE = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;padding:.75rem;
color:#1d1d1f;background:#fff;overflow-wrap:anywhere}
h1{font-size:1.3rem;margin:.2rem 0}h2{font-size:1.1rem;margin:1.4rem 0 .5rem;border-bottom:2px solid #ddd}
[lang=en]{color:#555}
a{color:#0b57a4}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.3rem .45rem;border-bottom:1px solid #e3e3e3;vertical-align:top}
th{font-size:.85rem;background:#f4f4f4}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
small,.meta{color:#666}
.badge{display:inline-block;padding:0 .4rem;border-radius:.25rem;font-size:.8rem;font-weight:600;color:#fff;
white-space:nowrap}
"""

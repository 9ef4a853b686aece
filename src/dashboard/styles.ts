/**
 * The dashboard's whole stylesheet, inlined in each page (no asset route that could answer
 * without a session, no CDN). The CSP allows exactly this text by its hash.
 */
export const STYLES = `
:root{--bg:#f5f6f8;--card:#fff;--ink:#1b1f24;--muted:#5f6b7a;--line:#e3e6eb;--accent:#2f5fb3;
--ok:#3a8f5c;--warn:#d08a00;--over:#cc3b32;--track:#eceff3;
font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
font-size:15px;line-height:1.45;color:var(--ink);background:var(--bg)}
*{box-sizing:border-box}
body{margin:0}
a{color:var(--accent);text-decoration:none}
a:hover{text-decoration:underline}
header.top{background:#16202e;color:#fff;padding:.6rem 1.25rem;display:flex;flex-wrap:wrap;gap:.4rem 1.25rem;align-items:center}
header.top .brand{font-weight:700;font-size:1.05rem;color:#fff;letter-spacing:.01em}
header.top .meta{color:#b9c3d0;font-size:.82rem;display:flex;flex-wrap:wrap;gap:.2rem .9rem;flex:1}
header.top .meta code{color:#fff}
header.top .who{display:flex;gap:.6rem;align-items:center;font-size:.85rem}
header.top form{margin:0}
header.top button{background:transparent;color:#fff;border:1px solid #5a6778;border-radius:6px;padding:.2rem .6rem;font:inherit;cursor:pointer}
.badge{display:inline-block;border-radius:999px;padding:.05rem .55rem;font-size:.75rem;font-weight:600;background:#e8edf5;color:#2b3a52;white-space:nowrap}
.badge.admin{background:#ffe8b3;color:#5c3d00}
.badge.active{background:#dcf1e3;color:#1f5c37}
.badge.disabled_in_file,.badge.disabled_override{background:#fbe0de;color:#8a211a}
.badge.expired{background:#e6e6e6;color:#444}
.badge.bill{padding:.05rem .3rem;margin:0 1px;font-size:.65rem}
.badge.bill.match{background:#dcf1e3;color:#1f5c37}
.badge.bill.unmetered,.badge.bill.mispriced{background:#fbe0de;color:#8a211a}
.badge.bill.overmetered{background:#ffe8b3;color:#5c3d00}
.badge.bill.unavailable,.badge.bill.none{background:#e6e6e6;color:#444}
main{max-width:1200px;margin:0 auto;padding:1.25rem}
h1{font-size:1.45rem;margin:.2rem 0 1rem}
h2{font-size:1.02rem;margin:0}
.sub{color:var(--muted);margin:-.6rem 0 1rem}
.findings{list-style:none;margin:0;padding:0}
.finding{border-top:1px solid var(--line);padding:.5rem 0}.finding:first-child{border-top:0}
.finding p{margin:.15rem 0}.finding .desc{color:var(--muted);font-size:.85rem}
.grid{display:grid;gap:1rem;grid-template-columns:repeat(auto-fit,minmax(min(100%,340px),1fr));margin-bottom:1rem}
.stats{display:grid;gap:1rem;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));margin-bottom:1rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1rem 1.1rem;margin-bottom:1rem;min-width:0}
.grid>.card,.stats>.card{margin-bottom:0}
.card-head{display:flex;justify-content:space-between;align-items:center;gap:.5rem;margin-bottom:.7rem}
.stat .label{color:var(--muted);font-size:.8rem;text-transform:uppercase;letter-spacing:.04em}
.stat .value{font-size:1.6rem;font-weight:650;font-variant-numeric:tabular-nums}
.stat .note{color:var(--muted);font-size:.82rem}
.notice{border-radius:8px;padding:.7rem 1rem;margin-bottom:1rem;border:1px solid}
.notice.ok{background:#e9f6ee;border-color:#b7dfc5}
.notice.error{background:#fdecea;border-color:#f2b8b3}
.notice.warn{background:#fff6e0;border-color:#f0d48a}
.scroll{overflow-x:auto;margin:0 -1.1rem;padding:0 1.1rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.76rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);white-space:nowrap}
th a{color:inherit}
th[aria-sort=ascending] a,th[aria-sort=descending] a{color:var(--ink)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tbody tr:hover{background:#f8f9fb}
td{white-space:nowrap}
td .desc{display:block;color:var(--muted);font-size:.8rem;max-width:28rem;white-space:normal}
td[data-label=Reason],td[data-label=Result]{white-space:normal;min-width:10rem;max-width:24rem;overflow-wrap:anywhere}
td[data-label=Key]{min-width:10rem}
td[data-label=Key] a{white-space:nowrap}
.window{padding:.2rem 0 .8rem}
.window-head,.window-foot{display:flex;flex-wrap:wrap;justify-content:space-between;gap:.2rem .8rem}
.window-head{font-variant-numeric:tabular-nums}
.window-foot{color:var(--muted);font-size:.84rem;margin-top:.3rem}
.window-foot strong{color:var(--ink)}
.window svg.meter{height:8px;margin-top:.35rem}
td .ua{display:block;min-width:8rem;max-width:18rem;white-space:normal;overflow-wrap:anywhere;color:var(--muted);font-size:.82rem}
.spend{min-width:9rem}
.spend .amount{display:flex;justify-content:space-between;gap:.5rem;font-variant-numeric:tabular-nums}
.spend .limit{color:var(--muted);font-size:.8rem}
svg.meter{display:block;width:100%;height:6px;margin-top:.25rem}
svg.meter .track{fill:var(--track)}
svg.meter.ok .fill{fill:var(--ok)}
svg.meter.warn .fill{fill:var(--warn)}
svg.meter.over .fill{fill:var(--over)}
.level-warn{color:#8a5a00}
.level-over{color:var(--over);font-weight:600}
figure.chart{margin:0}
figure.chart svg.wide,figure.chart svg.narrow{width:100%;height:auto;display:block}
figure.chart svg.narrow{display:none}
figure.chart .grid{stroke:var(--line);stroke-width:1}
figure.chart .axis{stroke:#9aa5b1;stroke-width:1}
figure.chart .tick{fill:var(--muted);font-size:12px}
figure.chart .empty{fill:var(--muted);font-size:13px}
.legend{list-style:none;margin:.6rem 0 0;padding:0;display:flex;flex-wrap:wrap;gap:.3rem 1rem;font-size:.84rem}
.legend li{display:flex;align-items:center;gap:.35rem}
.legend .num{color:var(--muted);font-variant-numeric:tabular-nums}
svg.swatch{width:10px;height:10px;flex:none}
ul.attention{list-style:none;margin:0;padding:0}
ul.attention li{padding:.45rem 0;border-bottom:1px solid var(--line);display:flex;flex-wrap:wrap;gap:.2rem .6rem;align-items:baseline}
ul.attention li:last-child{border-bottom:0}
ul.attention .why{color:var(--muted);font-size:.86rem}
.empty{color:var(--muted);margin:.2rem 0}
.more{margin:.6rem 0 0;font-size:.88rem}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;margin:0}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0;overflow-wrap:anywhere}
.tag{display:inline-block;background:#eef1f5;border-radius:4px;padding:0 .35rem;margin:0 .25rem .2rem 0;font-size:.82rem}
.button,button.primary,button.danger{display:inline-block;border-radius:7px;padding:.45rem .9rem;font:inherit;font-weight:600;border:1px solid var(--line);background:#fff;color:var(--ink);cursor:pointer}
.button.small{padding:.15rem .55rem;font-size:.8rem;font-weight:600}
button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
button.danger{background:var(--over);border-color:var(--over);color:#fff}
form.inline{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
input[type=text],input[type=password]{font:inherit;padding:.45rem .6rem;border:1px solid #c5ccd6;border-radius:7px;min-width:0;flex:1 1 14rem}
.signin{max-width:420px;margin:12vh auto;padding:0 1rem}
.signin .card{padding:1.5rem}
.signin label{display:block;font-weight:600;margin-bottom:.4rem}
.signin input{width:100%;margin-bottom:1rem}
.signin p{color:var(--muted);font-size:.88rem}
.crumbs{font-size:.88rem;margin-bottom:.4rem}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.86em}
@media (max-width:640px){
main{padding:.8rem}
header.top{padding:.6rem .8rem}
header.top .brand{flex:1}
header.top .meta{order:3;flex-basis:100%}
figure.chart svg.wide{display:none}
figure.chart svg.narrow{display:block}
.stat .value{font-size:1.3rem}
.stats{grid-template-columns:repeat(2,minmax(0,1fr));gap:.6rem}
.card{padding:.85rem}
.scroll{margin:0 -.85rem;padding:0 .85rem}
}
`;

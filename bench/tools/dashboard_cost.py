"""The CPU a watched dashboard costs Sluice: `sluice demo` idle for 30 s, then with headless
Chromium showing /dashboard?refresh=1 for 30 s (decision 0024). Usage:
/usr/bin/python3 bench/tools/dashboard_cost.py [path/to/sluice]; run from the repository root
(the demo config is examples/demo.yaml; its admin endpoint 127.0.0.1:9901 must be free)."""
import subprocess, time, os, sys
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
p = subprocess.Popen([sys.argv[1] if len(sys.argv) > 1 else "./build/sluice","demo","--config","examples/demo.yaml"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(3)
pid = int(subprocess.check_output(["pgrep","-f","-n","sluice demo"]).split()[0])
def cpu():
    f = open(f"/proc/{pid}/stat").read().split(")")[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
def window(s):
    a = cpu(); time.sleep(s); return cpu() - a
idle = window(30)
o = webdriver.ChromeOptions(); o.binary_location="/usr/bin/chromium"
for a in ["--headless=new","--no-sandbox","--disable-gpu","--disable-dev-shm-usage","--window-size=1280,1400"]: o.add_argument(a)
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
d.get("http://127.0.0.1:9901/dashboard?refresh=1")
time.sleep(3)
r0 = int(d.execute_script("return document.body.dataset.refreshes"))
busy = window(30)
r1 = int(d.execute_script("return document.body.dataset.refreshes"))
n = d.execute_script("return performance.getEntriesByType('resource').filter(e => e.name.includes('/cloudwatch')).length")
t = d.execute_script("const e = performance.getEntriesByType('resource').filter(e => e.name.includes('/cloudwatch')); return e.reduce((s,x)=>s+x.duration,0)/e.length")
d.quit(); p.terminate(); p.wait()
print(f"idle 30 s: {idle:.2f} CPU s; dashboard open at refresh=1 for 30 s: {busy:.2f} CPU s over {r1-r0} refreshes -> {(busy-idle)/(r1-r0)*1000:.1f} ms per refresh; /cloudwatch calls seen {n}, mean {t:.1f} ms")

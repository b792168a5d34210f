"""The end-to-end article store: a few articles in each format bantin reads,
dated relative to now (so the first digest carries them), and the manifest
of what a reader must see for each: title, link, date, categories, author,
image (absolute), and the site's icon and logo (the config e2e/run writes).

The manifest is written by hand here, not read back from bantin: the
feed and mail checks compare what real clients parse against it.

Usage: store.py DIR  -> writes DIR/articles/... and DIR/manifest.json
"""

import json
import os
import sys
from datetime import datetime, timedelta, timezone

BASE_URL = "https://yenbai.example.vn/"
# site.icon and site.logo in e2e/run's config.
ICON = BASE_URL + "icon-512.png"
LOGO = BASE_URL + "logo.svg"
VN = timezone(timedelta(hours=7))

# Categories as stores write them, and the slugs bantin must derive
# (Vietnamese diacritics dropped, đ -> d).
DU_LICH = ("Du lịch", "du-lich")
VAN_HOA = ("Văn hóa - Xã hội", "van-hoa-xa-hoi")
NONG_NGHIEP = ("Nông nghiệp", "nong-nghiep")


def articles(now):
    """(file name, format, expected) for every article; dates in the past
    hours so a first digest (first_backlog 7 days) includes them all."""
    t = lambda hours: (now - timedelta(hours=hours)).replace(microsecond=0, second=0)
    return [
        {
            "file": "markdown/mu-cang-chai.md",
            "format": "toml",
            "title": "Mù Cang Chải vào mùa vàng, du khách tăng mạnh",
            "slug": "mu-cang-chai-vao-mua-vang",
            "published": t(2),
            "summary": "Ruộng bậc thang Mù Cang Chải chuyển sắc vàng óng, mỗi ngày đón hàng nghìn lượt khách.",
            "categories": [DU_LICH, VAN_HOA],
            "author": "Thanh Hà",
            # Relative in the front matter; absolute in the feeds.
            "image": "/images/ruong-bac-thang.jpg",
            "body": "Những ngày giữa tháng 9, hàng nghìn thửa ruộng bậc thang bước vào độ chín đẹp nhất.\n\n"
            "Xem thêm [lịch lễ hội](/tin-tuc/le-hoi-mu-cang-chai).",
        },
        {
            "file": "markdown/que-van-yen.md",
            "format": "yaml",
            "title": "Quế Văn Yên vào vụ thu hoạch",
            "slug": "que-van-yen-vao-vu-thu-hoach",
            "published": t(5),
            "summary": "Nông dân Văn Yên bước vào vụ bóc vỏ quế, giá quế khô tăng so với năm trước.",
            "categories": [NONG_NGHIEP],
            "author": "Minh Đức",
            "body": "Tại các xã vùng quế, người dân tất bật bóc vỏ, phơi quế.",
        },
        {
            "file": "json/ho-thac-ba.json",
            "format": "json",
            "title": "Hồ Thác Bà mùa hè nhộn nhịp du khách",
            "slug": "ho-thac-ba-mua-he-nhon-nhip",
            "published": t(9),
            "summary": "Các điểm du lịch trên hồ Thác Bà đón lượng khách tăng mạnh trong tháng 7.",
            "categories": [DU_LICH],
            "author": "Thanh Hà",
            "body": "Hồ Thác Bà có hơn 1.300 hòn đảo lớn nhỏ.",
        },
        {
            "file": "portal/yenbai-tram-tau.txt",
            "format": "portal",
            "title": "Đường lên Trạm Tấu được mở rộng",
            # Made by bantin from the title: no slug in this format.
            "slug": "duong-len-tram-tau-duoc-mo-rong",
            "published": t(26),
            "summary": "Tuyến đường từ Nghĩa Lộ lên Trạm Tấu được mở rộng thêm 3 mét.",
            "categories": [],
            "author": "Báo Yên Bái",
            "body": "Công trình hoàn thành trước mùa mưa.",
        },
    ]


def render(a):
    date = a["published"].astimezone(VN).isoformat()
    names = [c[0] for c in a["categories"]]
    if a["format"] == "toml":
        cats = ", ".join(json.dumps(n, ensure_ascii=False) for n in names)
        return (
            f'+++\ntitle = {json.dumps(a["title"], ensure_ascii=False)}\ndate = {date}\n'
            f'summary = {json.dumps(a["summary"], ensure_ascii=False)}\ncategories = [{cats}]\n'
            f'author = {json.dumps(a["author"], ensure_ascii=False)}\nslug = "{a["slug"]}"\n'
            + (f'image = "{a["image"]}"\n' if a.get("image") else "")
            + f'+++\n\n{a["body"]}\n'
        )
    if a["format"] == "yaml":
        cats = "".join(f"  - {n}\n" for n in names)
        return (
            f'---\ntitle: "{a["title"]}"\ndate: {date}\nsummary: "{a["summary"]}"\n'
            f'categories:\n{cats}author: {a["author"]}\nslug: {a["slug"]}\n---\n\n{a["body"]}\n'
        )
    if a["format"] == "json":
        obj = {
            "title": a["title"],
            "date": date,
            "summary": a["summary"],
            "categories": names,
            "author": a["author"],
            "slug": a["slug"],
            "body": a["body"],
        }
        return json.dumps(obj, ensure_ascii=False, indent=2)
    if a["format"] == "portal":
        local = a["published"].astimezone(VN).strftime("%d/%m/%Y %H:%M:%S")
        return (
            "Welcome to Yen Bai Portal\n  \u2022 Đường dây nóng: 02163.818.555\n  \u2022 English\n\n"
            f'{a["title"]}\n\n{local} Xem cỡ chữ\n{a["summary"]}\n\n{a["body"]}\n\nTheo {a["author"]}'
        )
    raise ValueError(a["format"])


def main(out):
    now = datetime.now(timezone.utc)
    manifest = []
    for a in articles(now):
        path = os.path.join(out, "articles", a["file"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(render(a))
        manifest.append(
            {
                "title": a["title"],
                "link": BASE_URL + "tin-tuc/" + a["slug"],
                "published": a["published"].astimezone(timezone.utc).isoformat(),
                "summary": a["summary"],
                "categories": [{"name": n, "slug": s} for n, s in a["categories"]],
                "author": a["author"],
                "image": BASE_URL + a["image"].lstrip("/") if a.get("image") else None,
            }
        )
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump({"base_url": BASE_URL, "icon": ICON, "logo": LOGO, "articles": manifest}, f, ensure_ascii=False, indent=2)


if __name__ == "__main__":
    main(sys.argv[1])

"""Readable sample documents for the screenshots and demos: three revisions of a supply agreement
(text pages and a site plan drawn with vector lines) with changes a reviewer would care about."""

from __future__ import annotations

import pymupdf

CLAUSES = [
    ("1. Parties", "This Supply Agreement is made between Northwind Components Ltd (the Supplier) and "
     "Harbor Turbines GmbH (the Customer). It governs every order the Customer places with the Supplier "
     "for turbine parts, spare parts and related services."),
    ("2. Goods", "The Supplier shall deliver the turbine bearings, seals and housings listed in Schedule A. "
     "Each delivery is accompanied by a packing list and the certificates of conformity required by the "
     "Customer's quality standard."),
    ("3. Delivery", "Delivery is made to the Customer's plant in Bremen within thirty (30) days of the "
     "order. Partial deliveries require the Customer's written consent."),
    ("4. Prices", "Prices are fixed for the term of this agreement and include packaging. Transport and "
     "insurance are paid by the Supplier."),
    ("5. Payment", "The Customer pays each invoice within thirty (30) days of receipt, without deduction. "
     "Late payments bear interest at two percent above the base rate."),
    ("6. Warranty", "The Supplier warrants that the goods are free from defects in material and "
     "workmanship for twenty-four (24) months from delivery."),
    ("7. Inspection", "The Customer inspects each delivery within ten working days and reports visible "
     "defects in writing."),
    ("8. Liability", "Neither party is liable for indirect or consequential damages, except in cases of "
     "intent or gross negligence."),
    ("9. Confidentiality", "Each party keeps the other party's confidential information secret and uses "
     "it only for the purpose of this agreement."),
    ("10. Term", "This agreement runs for two years and renews for one year at a time unless terminated "
     "with three months' notice."),
]


def _revision(revision: int) -> list[tuple[str, str]]:
    clauses = [list(c) for c in CLAUSES]
    if revision >= 2:
        clauses[2][1] = clauses[2][1].replace("within thirty (30) days", "within fourteen (14) days")
        clauses[4][1] = clauses[4][1].replace("within thirty (30) days", "within forty-five (45) days")
        clauses[3][1] = clauses[3][1].replace(" Transport and insurance are paid by the Supplier.", "")
        clauses.insert(8, ["8a. Spare parts", "The Supplier keeps spare parts for every delivered bearing "
                           "type available for ten years after the last delivery."])
    if revision >= 3:
        clauses[6][1] = clauses[6][1].replace("twenty-four (24) months", "thirty-six (36) months")
    return [(a, b) for a, b in clauses]


def _wrap(text: str, width: int = 88) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return lines


def _text_pages(doc: pymupdf.Document, revision: int) -> None:
    clauses = _revision(revision)
    per_page = 6
    for start in range(0, len(clauses), per_page):
        page = doc.new_page(width=595, height=842)
        y = 72
        if start == 0:
            page.insert_text((72, y), "SUPPLY AGREEMENT", fontsize=18, fontname="hebo")
            page.insert_text((72, y + 22), f"Revision {chr(64 + revision)}", fontsize=10, fontname="helv")
            y += 60
        for title, body in clauses[start:start + per_page]:
            page.insert_text((72, y), title, fontsize=12, fontname="hebo")
            y += 18
            for line in _wrap(body):
                page.insert_text((72, y), line, fontsize=10.5, fontname="helv")
                y += 15
            y += 14
        footer = f"Page {doc.page_count} · Supply Agreement · Revision {chr(64 + revision)}"
        page.insert_text((72, 800), footer, fontsize=8, fontname="helv", color=(0.4, 0.4, 0.4))


def _site_plan(doc: pymupdf.Document, revision: int) -> None:
    page = doc.new_page(width=842, height=595)
    page.draw_rect(pymupdf.Rect(20, 20, 822, 575), width=1.5)
    page.draw_rect(pymupdf.Rect(582, 505, 822, 575), width=1)
    page.insert_text((592, 528), "SITE PLAN · BREMEN PLANT", fontsize=11, fontname="hebo")
    page.insert_text((592, 548), f"Schedule B · Revision {chr(64 + revision)}", fontsize=9, fontname="helv")
    for k in range(12):  # grid
        page.draw_line((60 + k * 60, 60), (60 + k * 60, 480), width=0.3, color=(0.6, 0.6, 0.6))
    for k in range(8):
        page.draw_line((60, 60 + k * 60), (720, 60 + k * 60), width=0.3, color=(0.6, 0.6, 0.6))
    page.draw_rect(pymupdf.Rect(90, 90, 330, 250), width=1.2)
    page.insert_text((100, 110), "Hall 1 · Assembly", fontsize=9, fontname="helv")
    page.draw_rect(pymupdf.Rect(390, 90, 690, 250), width=1.2)
    page.insert_text((400, 110), "Hall 2 · Bearings", fontsize=9, fontname="helv")
    dock = (90, 300, 250, 420) if revision < 2 else (420, 300, 580, 420)
    page.draw_rect(pymupdf.Rect(dock), width=1.2)
    page.insert_text((dock[0] + 10, dock[1] + 20), "Goods-in dock", fontsize=9, fontname="helv")
    page.draw_circle((650, 380), 30 if revision < 3 else 42, width=1.2)
    page.insert_text((620, 440), "Oil store" if revision < 3 else "Oil store (enlarged)", fontsize=9,
                     fontname="helv")
    page.insert_text((100, 500), "Gate A" if revision < 2 else "Gate A (trucks only)", fontsize=9,
                     fontname="helv")


def agreement(revision: int) -> bytes:
    """Revision 1, 2 or 3 of the agreement: two text pages (three from revision 2) and a site plan."""
    doc = pymupdf.open()
    _text_pages(doc, revision)
    _site_plan(doc, revision)
    data = doc.tobytes(garbage=3, deflate=True)
    doc.close()
    return data

from tests.conftest import SLUG, Board


async def test_event_page_lists_prompts(board: Board) -> None:
    phone = await board.phone(None)
    response = await phone.open(f"/e/{SLUG}")
    assert response.status_code == 200
    assert "L&#39;expérimentation et l&#39;action publique sont-elles compatibles ?" in response.text

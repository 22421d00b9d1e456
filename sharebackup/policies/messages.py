"""message:* (manila/policies/message.py): reading messages needs the project's reader role,
deleting one its member role; admins may do both for any project."""
from sharebackup.policies import base

GET = "message:get"
GET_ALL = "message:get_all"
DELETE = "message:delete"

rules = [
    base.documented(GET, base.ADMIN_OR_PROJECT_READER, "Get details of a given message.",
                    [("GET", "/messages/{message_id}")]),
    base.documented(GET_ALL, base.ADMIN_OR_PROJECT_READER, "Get all messages.",
                    [("GET", "/messages"), ("GET", "/messages?{query}")]),
    base.documented(DELETE, base.ADMIN_OR_PROJECT_MEMBER, "Delete a message.",
                    [("DELETE", "/messages/{message_id}")]),
]


def list_rules():
    return rules

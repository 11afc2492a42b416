"""View models: what a page shows, built from what the services return.

``result`` is the trainee's result page, ``evidence`` the assessor's evidence page. Presenters
read services and never change data; blueprints render what they return.
"""
